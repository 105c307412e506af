using Sara.Native.Runtime;

namespace Sara.Native.Backends;

/// <summary>
/// Device choice: the GPU when one is found, else the CPU backend. SARA_DEVICE=cpu|emu|cuda (or an explicit name)
/// overrides; a requested device that is not available is an error that says why.
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
                return GpuRuntime.TryCreate(out var gpu, out _) ? new CudaBackend(gpu!) : new CpuBackend();
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
            default:
                throw new ArgumentException($"Unknown device '{name}'; expected cpu, emu or cuda ({EnvironmentVariable}).", nameof(name));
        }
    }
}
