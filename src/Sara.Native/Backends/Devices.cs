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
            case var ordinal when ordinal.StartsWith("cuda:", StringComparison.Ordinal) && TryOrdinal(ordinal[5..], out var index):
                if (!GpuRuntime.TryStart((options ?? RuntimeOptions.Default) with { Device = index }, out var gpuDevice, out var whyDevice))
                    throw new InvalidOperationException($"Device '{ordinal}' is not available: {whyDevice.Reason}");
                return new CudaBackend(gpuDevice);
            case var ordinal when ordinal.StartsWith("emu:", StringComparison.Ordinal) && TryOrdinal(ordinal[4..], out _):
                return Create("emu", options);
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
