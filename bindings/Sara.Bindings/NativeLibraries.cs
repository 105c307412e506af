using System.Reflection;
using System.Runtime.InteropServices;

namespace Sara.Bindings;

/// <summary>The native libraries the bindings call, by the logical name used in [LibraryImport].</summary>
public static class Lib
{
    public const string Cuda = "sara:cuda";
    public const string Cublas = "sara:cublas";
    public const string Cusolver = "sara:cusolver";
    public const string Nvrtc = "sara:nvrtc";
    public const string OpenBlas = "sara:openblas";
    public const string Lapacke = "sara:lapacke";
    public const string Emulator = "sara:emu";
}

/// <summary>A native library could not be loaded under any of the names probed.</summary>
public sealed class NativeLibraryMissingException : DllNotFoundException
{
    public NativeLibraryMissingException(string logicalName, IReadOnlyList<string> tried, string howToInstall)
        : base($"Native library for '{logicalName}' not found. Tried: {string.Join(", ", tried)}. {howToInstall}")
    {
        LogicalName = logicalName;
        Tried = tried;
    }

    public string LogicalName { get; }
    public IReadOnlyList<string> Tried { get; }
}

/// <summary>
/// One resolver for every native library: probes versioned sonames in order, caches the handle,
/// and throws <see cref="NativeLibraryMissingException"/> listing every name tried and the package to install.
/// </summary>
public static class NativeLibraries
{
    private sealed record Candidate(string[] Names, string Install, (string Name, string Value)[]? Defaults = null,
        int[]? CudaMajors = null);

    /// <summary>
    /// OpenBLAS's worker threads spin (sched_yield) for 2^28 cycles after each call before they sleep: on a 2-core
    /// machine they then take the second core from whatever runs next (our rank-k kernels ran at half speed after every
    /// OpenBLAS GEMM). 2^16 cycles (~20 us) keeps back-to-back calls cheap. Set before the library loads (it reads its
    /// environment once); a value already in the environment wins.
    /// </summary>
    private static readonly (string, string)[] OpenBlasDefaults = [("OPENBLAS_THREAD_TIMEOUT", "16")];

    private static readonly Dictionary<string, Candidate> Candidates = new()
    {
        [Lib.Cuda] = new(["libcuda.so.1", "libcuda.so"],
            "Install the NVIDIA driver (it provides libcuda.so.1); a GPU is required."),
        // CudaMajors: the CUDA major release each soname comes with (0: unversioned, any). A library needs a driver of at
        // least its major (the driver's minor-version compatibility covers older minors within a major), so the names of a
        // newer major than the driver's are skipped. cuSOLVER's soname 11 spans CUDA 11.1 to 12.x; CUDA 13 brought 12.
        [Lib.Cublas] = new(["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"],
            "Install cuBLAS from the CUDA toolkit (Debian non-free: libcublas11; NVIDIA: libcublas-12-x / libcublas-13-x).",
            CudaMajors: [13, 12, 11, 0]),
        [Lib.Cusolver] = new(["libcusolver.so.12", "libcusolver.so.11", "libcusolver.so"],
            "Install cuSOLVER from the CUDA toolkit (Debian non-free: libcusolver11; NVIDIA: libcusolver-12-x).",
            CudaMajors: [13, 11, 0]),
        [Lib.Nvrtc] = new(["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"],
            "Install NVRTC (Debian non-free: apt-get install libnvrtc11.2 libnvrtc-builtins11.8; NVIDIA: cuda-nvrtc-12-x).",
            CudaMajors: [13, 12, 11, 0]),
        [Lib.OpenBlas] = new(["libopenblas.so.0", "libopenblas.so"],
            "Install OpenBLAS (Debian: apt-get install libopenblas0).", OpenBlasDefaults),
        // LAPACKE loads OpenBLAS as its BLAS, so it gets the same defaults.
        [Lib.Lapacke] = new(["liblapacke.so.3", "liblapacke.so"],
            "Install LAPACKE (Debian: apt-get install liblapacke).", OpenBlasDefaults),
        [Lib.Emulator] = new([],
            "The Sara.Native NuGet package ships it (runtimes/linux-x64/native); in the repository, build it with " +
            "`./build.sh --target=Emulator` (needs g++ and cmake); or set SARA_EMU_LIBRARY to its path."),
    };

    private static readonly Dictionary<string, nint> Loaded = new();
    private static readonly Dictionary<string, string> Overrides = new();
    private static readonly object Gate = new();
    private static int _registered;

    /// <summary>Hooks the resolver into an assembly whose [LibraryImport]s use the <see cref="Lib"/> names.</summary>
    public static void Register(Assembly assembly)
    {
        NativeLibrary.SetDllImportResolver(assembly, (name, _, _) =>
            name.StartsWith("sara:", StringComparison.Ordinal) ? Load(name) : 0);
    }

    internal static void EnsureRegistered()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0) Register(typeof(NativeLibraries).Assembly);
    }

    /// <summary>Forces a specific file for a logical name (tests use this to prove the missing-library message).</summary>
    public static void Override(string logicalName, string path)
    {
        lock (Gate) { Overrides[logicalName] = path; Loaded.Remove(logicalName); }
    }

    /// <summary>Removes a forced file set by <see cref="Override"/>; the next load probes the usual names again.</summary>
    public static void ClearOverride(string logicalName)
    {
        lock (Gate) { Overrides.Remove(logicalName); Loaded.Remove(logicalName); }
    }

    /// <summary>The environment variable that forces the file for a logical name: SARA_NATIVE_OVERRIDE_cuda, ..._openblas, ...</summary>
    public static string OverrideVariable(string logicalName) => "SARA_NATIVE_OVERRIDE_" + logicalName["sara:".Length..];

    /// <summary>True when one file is forced for <paramref name="logicalName"/> (<see cref="Override"/> or SARA_NATIVE_OVERRIDE_&lt;name&gt;).</summary>
    public static bool IsForced(string logicalName)
    {
        lock (Gate)
            if (Overrides.ContainsKey(logicalName)) return true;
        return !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(OverrideVariable(logicalName)));
    }

    /// <summary>True when the library loads; never throws.</summary>
    public static bool IsAvailable(string logicalName)
    {
        try { Load(logicalName); return true; }
        catch (DllNotFoundException) { return false; }
    }

    /// <summary>Loads (once) and returns the handle, or throws the resolver's message.</summary>
    public static nint Load(string logicalName)
    {
        lock (Gate)
        {
            if (Loaded.TryGetValue(logicalName, out var h)) return h;
            if (!Candidates.TryGetValue(logicalName, out var c))
                throw new ArgumentException($"Unknown native library '{logicalName}'.", nameof(logicalName));
            var plan = Probe(logicalName, c, c.CudaMajors is null ? null : CudaDriverVersion());
            foreach (var (name, value) in c.Defaults ?? []) Libc.SetEnv(name, value, overwrite: 0);
            foreach (var n in plan.Names)
            {
                if (NativeLibrary.TryLoad(n, out h)) { Loaded[logicalName] = h; return h; }
            }
            var skipped = plan.Skipped.Count == 0 ? "" : $"Skipped {string.Join(", ", plan.Skipped)}: {plan.SkipReason}. ";
            throw new NativeLibraryMissingException(logicalName, plan.Names, skipped + c.Install);
        }
    }

    /// <summary>The names a load of <paramref name="logicalName"/> tries, in order, and those it leaves out for the driver.</summary>
    public sealed record ProbePlan(IReadOnlyList<string> Names, IReadOnlyList<string> Skipped, string SkipReason);

    /// <summary>
    /// What <see cref="Load"/> tries for <paramref name="logicalName"/> under a CUDA driver of version
    /// <paramref name="cudaDriverVersion"/> (cuDriverGetVersion's 1000 * major + 10 * minor, e.g. 12040; null: no driver,
    /// nothing skipped): a CUDA library's sonames of a newer major than the driver's are skipped, since they would load
    /// and then fail on every call (libcublas.so.13 needs a CUDA 13 driver). A forced file is never skipped.
    /// </summary>
    public static ProbePlan ProbeOrder(string logicalName, int? cudaDriverVersion)
    {
        if (!Candidates.TryGetValue(logicalName, out var c))
            throw new ArgumentException($"Unknown native library '{logicalName}'.", nameof(logicalName));
        lock (Gate) return Probe(logicalName, c, cudaDriverVersion);
    }

    /// <summary>The driver's CUDA version (cuDriverGetVersion, e.g. 12040 for 12.4), or null when libcuda does not load.</summary>
    public static int? CudaDriverVersion()
    {
        if (!IsAvailable(Lib.Cuda)) return null;
        try { return Cuda.cuDriverGetVersion(out var v) == CUresult.CUDA_SUCCESS && v > 0 ? v : null; }
        catch (EntryPointNotFoundException) { return null; }
    }

    private static ProbePlan Probe(string logicalName, Candidate c, int? cudaDriverVersion)
    {
        if (Overrides.TryGetValue(logicalName, out var forced)) return new([forced], [], "");
        // SARA_NATIVE_OVERRIDE_<name> (e.g. SARA_NATIVE_OVERRIDE_openblas=/opt/lib/libopenblas.so.0) forces one file.
        var fromEnv = Environment.GetEnvironmentVariable(OverrideVariable(logicalName));
        if (!string.IsNullOrEmpty(fromEnv)) return new([fromEnv], [], "");
        if (logicalName == Lib.Emulator) return new(EmulatorPaths(), [], "");
        if (c.CudaMajors is not { } majors || cudaDriverVersion is not { } v) return new(c.Names, [], "");
        var driverMajor = v / 1000;
        var names = c.Names.Where((_, i) => majors[i] <= driverMajor).ToArray();
        var skipped = c.Names.Where((_, i) => majors[i] > driverMajor).ToArray();
        return new(names, skipped, $"they need a newer CUDA driver than this one (CUDA {driverMajor}.{v % 1000 / 10})");
    }

    /// <summary>
    /// libsara_emu.so: SARA_EMU_LIBRARY; the app's folder; the folders the host probes for the app's native assets
    /// (NATIVE_DLL_SEARCH_DIRECTORIES: where a NuGet package's runtimes/linux-x64/native lands); then artifacts/native of
    /// the repository the app runs in (tests, CLI, bench in the tree).
    /// </summary>
    private static List<string> EmulatorPaths()
    {
        const string file = "libsara_emu.so";
        var names = new List<string>();
        void Add(string p) { if (!names.Contains(p)) names.Add(p); }
        var env = Environment.GetEnvironmentVariable("SARA_EMU_LIBRARY");
        if (!string.IsNullOrEmpty(env)) Add(env);
        Add(Path.Combine(AppContext.BaseDirectory, file));
        var searchDirs = AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") as string ?? "";
        foreach (var dir in searchDirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            Add(Path.Combine(dir, file));
        Add(Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", file));
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            Add(Path.Combine(dir.FullName, "artifacts", "native", file));
        return names;
    }

    /// <summary>The file a loaded library came from (dladdr of one of its symbols' module), or null when not loaded or unknown.</summary>
    public static string? LoadedPath(string logicalName, string symbol)
    {
        nint h;
        lock (Gate) if (!Loaded.TryGetValue(logicalName, out h)) return null;
        return NativeLibrary.TryGetExport(h, symbol, out var address) ? Libc.ModulePath(address) : null;
    }
}
