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
    private readonly int _archNumber;
    private readonly List<nint> _modules = [];
    private readonly Dictionary<string, nint> _functions = new(StringComparer.Ordinal);
    private readonly HashSet<string> _coveredSources = new(StringComparer.Ordinal);
    private readonly List<string> _notes = [];
    private bool _fatbinsTried;

    /// <param name="arch">"sm_90"</param>
    /// <param name="archNumber">90: major * 10 + minor</param>
    public GpuKernelModules(string arch, int archNumber)
    {
        _arch = arch;
        _archNumber = archNumber;
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
            var r = LoadImage(KernelSources.ReadBytes(fat), out var module, out var jitLog);
            if (r != CUresult.CUDA_SUCCESS)
            {
                // E.g. CUDA_ERROR_NO_BINARY_FOR_GPU on an architecture the fatbin lacks: NVRTC takes over.
                _notes.Add($"{fat}: not loaded ({Cuda.ErrorName(r)}{(jitLog.Length > 0 ? ": " + jitLog : "")}), NVRTC used instead");
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
        string how;
        try
        {
            image = KernelCompiler.CompileEmbeddedCached(src, _arch);
            how = $"NVRTC {_arch}";
        }
        catch (NativeCallException e) when (KernelCompiler.IsUnknownArch(e))
        {
            (image, var ptxArch) = CompilePtx(src);
            how = $"NVRTC {ptxArch} PTX, JIT-compiled by the driver (this NVRTC does not know {_arch})";
        }
        var r = LoadImage(image, out var module, out var jitLog);
        if (r != CUresult.CUDA_SUCCESS)
            throw new NativeCallException("cuModuleLoadDataEx", Cuda.ErrorName(r), (int)r,
                $"{src} ({how})" + (jitLog.Length > 0 ? $"; JIT log:\n{jitLog}" : "; the driver's JIT log is empty"));
        _modules.Add(module);
        _notes.Add($"{src}: {how}");
    }

    /// <summary>
    /// This NVRTC predates the device: PTX for the newest target it knows at or below the device (nvrtcGetSupportedArchs
    /// where NVRTC has it), stepping down on each "invalid option" until one compiles; the driver JIT-compiles the PTX.
    /// </summary>
    private (byte[] Image, string Arch) CompilePtx(string src)
    {
        var candidates = KernelCompiler.PtxFallbackArchs(_archNumber, KernelCompiler.SupportedArchs());
        foreach (var ptxArch in candidates)
        {
            try { return (KernelCompiler.CompileEmbeddedCached(src, ptxArch), ptxArch); }
            catch (NativeCallException e) when (KernelCompiler.IsUnknownArch(e)) { }
        }
        throw new NativeCallException("nvrtcCompileProgram", nameof(NvrtcResult.NVRTC_ERROR_INVALID_OPTION), (int)NvrtcResult.NVRTC_ERROR_INVALID_OPTION,
            $"{src}: this NVRTC knows neither {_arch} nor a PTX target at or below it (tried {string.Join(", ", candidates)})");
    }

    /// <summary>cuModuleLoadDataEx with a 16 KiB error-log buffer; the log (may be empty) comes back with the status.</summary>
    private static unsafe CUresult LoadImage(byte[] image, out nint module, out string jitLog)
    {
        const int LogBytes = 16 * 1024;
        var log = new byte[LogBytes];
        var options = stackalloc CUjit_option[2];
        var values = stackalloc void*[2];
        options[0] = CUjit_option.CU_JIT_ERROR_LOG_BUFFER;
        options[1] = CUjit_option.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES;
        CUresult r;
        fixed (byte* p = image)
        fixed (byte* l = log)
        {
            values[0] = l;
            values[1] = (void*)(nuint)LogBytes;   // an unsigned int passed by value in the pointer slot
            r = Cuda.cuModuleLoadDataEx(out module, p, 2, options, values);
        }
        jitLog = KernelCompiler.CString(log);
        return r;
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
