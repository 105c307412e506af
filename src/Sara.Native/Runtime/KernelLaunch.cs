using System.Runtime.InteropServices;

namespace Sara.Native.Runtime;

/// <summary>Grid or block extent, as in CUDA.</summary>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public static implicit operator Dim3(uint x) => new(x);
    public static implicit operator Dim3(int x) => new(checked((uint)x));
    public override string ToString() => $"({X},{Y},{Z})";
}

/// <summary>
/// One kernel argument stored in an 8-byte slot. Launchers pass a pointer to each slot, exactly like
/// cuLaunchKernel's kernelParams; a 4-byte value sits at the start of its slot (little-endian).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
public readonly struct KernelArg
{
    [FieldOffset(0)] private readonly long _bits;
    [FieldOffset(0)] private readonly int _int;
    [FieldOffset(0)] private readonly float _float;

    private KernelArg(long bits) : this() => _bits = bits;
    private KernelArg(int value, bool _) : this() => _int = value;
    private KernelArg(float value) : this() => _float = value;

    public static KernelArg Ptr(nint p) => new((long)p);
    public static KernelArg Int(int v) => new(v, true);
    public static KernelArg Float(float v) => new(v);
    public static KernelArg Long(long v) => new(v);

    public static implicit operator KernelArg(nint p) => Ptr(p);
    public static implicit operator KernelArg(int v) => Int(v);
    public static implicit operator KernelArg(float v) => Float(v);
    public static implicit operator KernelArg(long v) => Long(v);
}

/// <summary>Fills the void** array for a launch: ptrs[i] points at slots[i], which holds args[i].</summary>
internal static unsafe class KernelArgPacker
{
    /// <summary>Callers stackalloc <paramref name="slots"/> and <paramref name="ptrs"/> with args.Length entries.</summary>
    public static void Fill(ReadOnlySpan<KernelArg> args, KernelArg* slots, nint* ptrs)
    {
        for (var i = 0; i < args.Length; i++)
        {
            slots[i] = args[i];
            ptrs[i] = (nint)(&slots[i]);
        }
    }
}
