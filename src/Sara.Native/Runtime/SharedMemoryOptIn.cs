namespace Sara.Native.Runtime;

/// <summary>
/// The per-block shared-memory rule of the driver: a block may use 48 KiB (static + dynamic) without asking; above that
/// the kernel must first raise its MaxDynamicSharedSizeBytes attribute to the dynamic size, and static + dynamic may not
/// exceed the device's MaxSharedMemoryPerBlockOptin (227 KiB on sm_90, 163 KiB on sm_80).
/// </summary>
public static class SharedMemoryOptIn
{
    /// <summary>What every kernel may use without opting in.</summary>
    public const int DefaultLimit = 48 * 1024;

    /// <summary>
    /// True when <paramref name="kernel"/> must set MaxDynamicSharedSizeBytes to <paramref name="dynamicBytes"/> before
    /// this launch (<paramref name="dynamicSet"/>: the value already set, 0 if none). Throws when the block cannot fit at all.
    /// </summary>
    public static bool Needed(string kernel, int staticBytes, uint dynamicBytes, int optinLimit, uint dynamicSet)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(staticBytes);
        var total = staticBytes + (long)dynamicBytes;
        var limit = Math.Max(optinLimit, DefaultLimit);
        if (total > limit)
            throw new ArgumentOutOfRangeException(nameof(dynamicBytes), dynamicBytes,
                $"{kernel}: {staticBytes} static + {dynamicBytes} dynamic bytes of shared memory exceed the device's " +
                $"{limit}-byte limit per block (MaxSharedMemoryPerBlockOptin).");
        return total > DefaultLimit && dynamicBytes > dynamicSet;
    }
}
