using Sara.Bindings;

namespace Sara.Native.Runtime;

/// <summary>
/// Kernel name -> CUfunction for one context. Embedded fatbins are loaded first (kernels/&lt;name&gt;.fatbin covers
/// kernels/&lt;name&gt;.cu; kernels/sara.fatbin may cover all). A kernel found in none is looked for in the sources
/// not covered by a fatbin: the one whose text declares it first, compiled by NVRTC for the device (disk-cached).
/// The caller makes the context current before every call.
/// </summary>
internal sealed class GpuKernelModules : IDisposable
{
    private readonly string _arch;
    private readonly int _computeMajor;
    private readonly List<nint> _modules = [];
    private readonly Dictionary<string, nint> _functions = new(StringComparer.Ordinal);
    private readonly HashSet<string> _coveredSources = new(StringComparer.Ordinal);
    private readonly List<string> _notes = [];
    private bool _fatbinsTried;

    public GpuKernelModules(string arch, int computeMajor)
    {
        _arch = arch;
        _computeMajor = computeMajor;
    }

    /// <summary>How each module was obtained (fatbin, NVRTC, fallbacks): for diagnostics and the Description.</summary>
    public IReadOnlyList<string> Notes => _notes;

    public nint GetFunction(string kernel)
    {
        if (_functions.TryGetValue(kernel, out var f)) return f;
        if (!_fatbinsTried) LoadFatbins();
        if (TryFind(kernel, out f)) return _functions[kernel] = f;

        var pending = KernelSources.SourceFiles.Where(s => !_coveredSources.Contains(s)).ToList();
        var declaring = pending.Where(s => KernelSources.EntryPoints(KernelSources.ReadText(s)).Contains(kernel)).ToList();
        foreach (var src in declaring.Concat(pending.Except(declaring)))
        {
            LoadSource(src);
            if (TryFind(kernel, out f)) return _functions[kernel] = f;
        }
        throw new NativeCallException("cuModuleGetFunction", "CUDA_ERROR_NOT_FOUND", (int)CUresult.CUDA_ERROR_NOT_FOUND,
            $"kernel '{kernel}' is in no embedded fatbin or kernel source ({string.Join(", ", KernelSources.SourceFiles)})");
    }

    private void LoadFatbins()
    {
        _fatbinsTried = true;
        foreach (var fat in KernelSources.FatbinFiles)
        {
            var r = LoadImage(KernelSources.ReadBytes(fat), out var module);
            if (r != CUresult.CUDA_SUCCESS)
            {
                // E.g. CUDA_ERROR_NO_BINARY_FOR_GPU on an architecture the fatbin lacks: NVRTC takes over.
                _notes.Add($"{fat}: not loaded ({Cuda.ErrorName(r)}), NVRTC used instead");
                continue;
            }
            _modules.Add(module);
            _notes.Add($"{fat}: loaded");
            var covered = Path.ChangeExtension(fat, ".cu");
            if (KernelSources.SourceFiles.Contains(covered)) _coveredSources.Add(covered);
        }
    }

    private void LoadSource(string src)
    {
        _coveredSources.Add(src);
        byte[] image;
        try
        {
            image = KernelCompiler.CompileEmbeddedCached(src, _arch);
            _notes.Add($"{src}: NVRTC {_arch}");
        }
        catch (NativeCallException e) when (e.Code == (int)NvrtcResult.NVRTC_ERROR_INVALID_OPTION && e.Call == "nvrtcCompileProgram")
        {
            // This NVRTC predates the device: hand the driver PTX for the newest target it knows, to JIT.
            var ptxArch = _computeMajor >= 9 ? "compute_90" : "compute_80";
            image = KernelCompiler.CompileEmbeddedCached(src, ptxArch);
            _notes.Add($"{src}: NVRTC {ptxArch} PTX (NVRTC does not know {_arch})");
        }
        var r = LoadImage(image, out var module);
        Cuda.Check(r, "cuModuleLoadData", $"{src} compiled by NVRTC for {_arch}");
        _modules.Add(module);
    }

    private static unsafe CUresult LoadImage(byte[] image, out nint module)
    {
        fixed (byte* p = image) return Cuda.cuModuleLoadData(out module, p);
    }

    private bool TryFind(string kernel, out nint function)
    {
        foreach (var m in _modules)
        {
            var r = Cuda.cuModuleGetFunction(out function, m, kernel);
            if (r == CUresult.CUDA_SUCCESS) return true;
            if (r != CUresult.CUDA_ERROR_NOT_FOUND) Cuda.Check(r, "cuModuleGetFunction", kernel);
        }
        function = 0;
        return false;
    }

    /// <summary>Unloads every module; returns the first failure instead of throwing so the caller can finish releasing.</summary>
    public Exception? UnloadAll()
    {
        Exception? first = null;
        foreach (var m in _modules)
        {
            var r = Cuda.cuModuleUnload(m);
            if (r != CUresult.CUDA_SUCCESS) first ??= new NativeCallException("cuModuleUnload", Cuda.ErrorName(r), (int)r);
        }
        _modules.Clear();
        _functions.Clear();
        return first;
    }

    public void Dispose() => UnloadAll();
}
