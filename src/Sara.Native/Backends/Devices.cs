using Sara.Native.Runtime;

namespace Sara.Native.Backends;

/// <summary>
/// Device choice: the GPU when one is found, else the CPU backend. SARA_DEVICE=cpu|emu|cuda (or an explicit name)
/// overrides; a requested device that is not available is an error that says why. The default falls back to the CPU
/// only when there is no NVIDIA GPU (<see cref="GpuStartFailure.NoDevice"/>), and then the reason is in the backend's
/// Description and goes to <see cref="Log"/>; a GPU whose runtime cannot start (driver error, missing cuBLAS/cuSOLVER,
/// ...) is an error, not a silent switch to the CPU.
/// </summary>
public static class Devices
{
    public const string EnvironmentVariable = "SARA_DEVICE";

    /// <summary>Where the library's one-line notices go (today: why the default device fell back to the CPU). Standard error by default; null silences them.</summary>
    public static Action<string>? Log { get; set; } = line => Console.Error.WriteLine(line);

    /// <summary>Creates the backend named by <paramref name="name"/>, else by SARA_DEVICE, else the default.</summary>
    public static Backend Create(string? name = null) => Create(name, null);

    /// <summary>
    /// As <see cref="Create(string?)"/>, on the CUDA context and stream <paramref name="options"/> name (cuda and emu).
    /// Options that name a context or stream make the default mean cuda (no silent CPU fallback) and are an error for cpu.
    /// </summary>
    public static Backend Create(string? name, RuntimeOptions? options)
    {
        name ??= Environment.GetEnvironmentVariable(EnvironmentVariable);
        options?.Validate();
        var device = string.IsNullOrWhiteSpace(name) ? "auto" : name.Trim().ToLowerInvariant();
        if (device == "auto" && options is { NamesCudaObjects: true }) device = "cuda";
        switch (device)
        {
            case "auto":
                if (GpuRuntime.TryStart(options ?? RuntimeOptions.Default, out var gpu, out var failure)) return new CudaBackend(gpu);
                if (!failure.NoDevice)
                    throw new InvalidOperationException(
                        $"The GPU runtime cannot start ({failure.Reason}); fix that, or set {EnvironmentVariable}=cpu for the CPU backend.");
                Log?.Invoke($"Sara.Native: using the CPU backend; the GPU is not available: {failure.Reason}");
                return new CpuBackend(failure.Reason);
            case "cpu":
                if (options is { NamesCudaObjects: true })
                    throw new ArgumentException("Device 'cpu' takes no CUDA context or stream.", nameof(options));
                return new CpuBackend();
            case "emu":
                if (!EmulatedRuntime.TryCreate(options ?? RuntimeOptions.Default, out var emu, out var whyEmu))
                    throw new InvalidOperationException($"Device 'emu' is not available: {whyEmu}");
                return new CudaBackend(emu!);
            case "cuda":
                if (!GpuRuntime.TryStart(options ?? RuntimeOptions.Default, out var cuda, out var whyCuda))
                    throw new InvalidOperationException($"Device 'cuda' is not available: {whyCuda.Reason}");
                return new CudaBackend(cuda);
            default:
                throw new ArgumentException($"Unknown device '{name}'; expected cpu, emu or cuda ({EnvironmentVariable}).", nameof(name));
        }
    }
}
