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
            default:
                throw new ArgumentException($"Unknown device '{name}'; expected cpu, emu or cuda ({EnvironmentVariable}).", nameof(name));
        }
    }
}
