using Sara.Native.Runtime;

namespace Sara.Native.Backends;

/// <summary>
/// Device choice: the GPU when one is found, else the CPU backend. SARA_DEVICE=cpu|emu|cuda (or an explicit name)
/// overrides; a requested device that is not available is an error that says why. The default falls back to the CPU
/// only when there is no NVIDIA GPU (<see cref="GpuStartFailure.NoDevice"/>): a GPU whose runtime cannot start (driver
/// error, missing cuBLAS/cuSOLVER, ...) is an error, not a silent switch to the CPU.
/// </summary>
public static class Devices
{
    public const string EnvironmentVariable = "SARA_DEVICE";

    /// <summary>Creates the backend named by <paramref name="name"/>, else by SARA_DEVICE, else the default.</summary>
    public static Backend Create(string? name = null)
    {
        name ??= Environment.GetEnvironmentVariable(EnvironmentVariable);
        switch (string.IsNullOrWhiteSpace(name) ? "auto" : name.Trim().ToLowerInvariant())
        {
            case "auto":
                if (GpuRuntime.TryStart(0, out var gpu, out var failure)) return new CudaBackend(gpu);
                if (failure.NoDevice) return new CpuBackend();
                throw new InvalidOperationException(
                    $"The GPU runtime cannot start ({failure.Reason}); fix that, or set {EnvironmentVariable}=cpu for the CPU backend.");
            case "cpu":
                return new CpuBackend();
            case "emu":
                if (!EmulatedRuntime.TryCreate(out var emu, out var whyEmu))
                    throw new InvalidOperationException($"Device 'emu' is not available: {whyEmu}");
                return new CudaBackend(emu!);
            case "cuda":
                if (!GpuRuntime.TryCreate(out var cuda, out var whyCuda))
                    throw new InvalidOperationException($"Device 'cuda' is not available: {whyCuda}");
                return new CudaBackend(cuda!);
            case var ordinal when ordinal.StartsWith("cuda:", StringComparison.Ordinal) && TryOrdinal(ordinal[5..], out var index):
                if (!GpuRuntime.TryCreate(index, out var device, out var whyDevice))
                    throw new InvalidOperationException($"Device '{ordinal}' is not available: {whyDevice}");
                return new CudaBackend(device!);
            case var ordinal when ordinal.StartsWith("emu:", StringComparison.Ordinal) && TryOrdinal(ordinal[4..], out _):
                return Create("emu");
            default:
                throw new ArgumentException($"Unknown device '{name}'; expected cpu, emu or cuda, or cuda:N for one GPU ({EnvironmentVariable}).", nameof(name));
        }
    }

    /// <summary>
    /// The devices of a comma-separated list ("cuda:0,cuda:1"; "emu:0,emu:1" makes independent emulated devices, as a
    /// stand-in for several GPUs; a single name as <see cref="Create"/>): one backend each, in order. A name may not
    /// repeat. On any failure the backends already made are disposed.
    /// </summary>
    public static IReadOnlyList<Backend> CreateAll(string? names)
    {
        names ??= Environment.GetEnvironmentVariable(EnvironmentVariable);
        var list = (names ?? "").Split(',', StringSplitOptions.TrimEntries).Select(n => n.ToLowerInvariant()).ToList();
        if (list.Count > 1 && list.Any(n => n.Length == 0))
            throw new ArgumentException($"Device list '{names}' has an empty entry.", nameof(names));
        var repeated = list.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null) throw new ArgumentException($"Device '{repeated.Key}' appears twice in '{names}'.", nameof(names));
        if (list.Count > 1 && list.Any(n => n is "cpu" or "emu" or "cuda" or "auto"))
            throw new ArgumentException($"In a device list each device needs its index (cuda:0, emu:1); got '{names}'.", nameof(names));
        var backends = new List<Backend>();
        try
        {
            foreach (var n in list) backends.Add(Create(n.Length == 0 ? null : n));
            return backends;
        }
        catch
        {
            foreach (var b in backends) b.Dispose();
            throw;
        }
    }

    private static bool TryOrdinal(string text, out int index) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out index);
}
