using System.Diagnostics.CodeAnalysis;
using Sara.Bindings;

namespace Sara.Native.Runtime;

/// <summary>
/// The kernel runtime on a real GPU: one device's primary context, one stream, cuBLAS and cuSOLVER handles bound
/// to that stream, and the kernels (embedded fatbins, else NVRTC-compiled embedded sources). Every entry point makes
/// the context current on the calling thread first, so any thread may use it (not concurrently).
/// The stream is a blocking one, so the synchronous cuMemcpy*/cuMemset calls on the legacy stream stay ordered with it.
/// </summary>
public sealed unsafe partial class GpuRuntime : IKernelRuntime
{
    private const uint StaticSharedLimit = 48 * 1024;

    [ThreadStatic] private static nint t_currentContext;

    private readonly nint _context, _stream, _blas, _solver;
    private readonly GpuKernelModules _kernels;
    private readonly Dictionary<nint, uint> _dynamicSharedSet = new();
    private readonly object _gate = new();
    private bool _disposed;

    /// <summary>Opens device <paramref name="ordinal"/>; throws when the driver, device or libraries are missing (see <see cref="TryCreate(int, out GpuRuntime?, out string)"/>).</summary>
    public GpuRuntime(int ordinal = 0)
    {
        Cuda.Check(Cuda.cuInit(0), "cuInit");
        Device = CudaDevice.Query(ordinal);
        _kernels = new GpuKernelModules(Device.Arch, Device.ComputeMajor);
        try
        {
            Cuda.Check(Cuda.cuDevicePrimaryCtxRetain(out _context, Device.Handle), "cuDevicePrimaryCtxRetain");
            MakeCurrent();
            Cuda.Check(Cuda.cuStreamCreate(out _stream, 0), "cuStreamCreate");
            Cublas.Check(Cublas.cublasCreate_v2(out _blas), "cublasCreate_v2");
            Cublas.Check(Cublas.cublasSetStream_v2(_blas, _stream), "cublasSetStream_v2");
            // Full FP32 (no TF32): results must match the float64 oracles to float32 rounding.
            Cublas.Check(Cublas.cublasSetMathMode(_blas, CublasMath.Default), "cublasSetMathMode");
            Cublas.Check(Cublas.cublasGetVersion_v2(_blas, out var blasVersion), "cublasGetVersion_v2");
            Cusolver.Check(Cusolver.cusolverDnCreate(out _solver), "cusolverDnCreate");
            Cusolver.Check(Cusolver.cusolverDnSetStream(_solver, _stream), "cusolverDnSetStream");
            CublasVersion = blasVersion;
        }
        catch
        {
            ReleaseAll();
            throw;
        }
        Description = $"cuda:{Device.Ordinal} {Device.Name} ({Device.Arch}, {Device.MultiprocessorCount} SMs, " +
                      $"driver {Device.DriverVersion / 1000}.{Device.DriverVersion % 1000 / 10}, cuBLAS {CublasVersion})";
    }

    /// <summary>
    /// Opens device <paramref name="ordinal"/>, or returns false with the reason ("no CUDA driver: " + the resolver's message,
    /// "no CUDA device", a missing cuBLAS/cuSOLVER, no way to get kernel binaries, or the failing call) without throwing.
    /// </summary>
    public static bool TryCreate(int ordinal, [NotNullWhen(true)] out GpuRuntime? runtime, out string whyNot)
    {
        var ok = TryStart(ordinal, out runtime, out var failure);
        whyNot = failure?.Reason ?? "";
        return ok;
    }

    public static bool TryCreate([NotNullWhen(true)] out GpuRuntime? runtime, out string whyNot) => TryCreate(0, out runtime, out whyNot);

    /// <summary>
    /// Like <see cref="TryCreate(int, out GpuRuntime?, out string)"/>, with the failure classified: <see cref="GpuStartFailure.NoDevice"/>
    /// when this machine has no NVIDIA GPU to use (no driver library under its usual names, the toolkit's stub driver,
    /// cuInit finds no device, or the driver counts none); every other failure (a driver that does not initialise, a
    /// forced driver file that does not load, a missing cuBLAS/cuSOLVER, no kernel binaries, a failing call) is a GPU
    /// that is there but cannot be used.
    /// </summary>
    public static bool TryStart(int ordinal, [NotNullWhen(true)] out GpuRuntime? runtime, [NotNullWhen(false)] out GpuStartFailure? failure)
    {
        runtime = null;
        failure = Probe(ordinal);
        if (failure is not null) return false;
        try
        {
            runtime = new GpuRuntime(ordinal);
            return true;
        }
        catch (Exception e) when (e is NativeCallException or DllNotFoundException or EntryPointNotFoundException or ArgumentException)
        {
            failure = GpuStartFailure.Broken(e.Message);
            return false;
        }
    }

    /// <summary>Null when device <paramref name="ordinal"/> looks usable, else why not.</summary>
    private static GpuStartFailure? Probe(int ordinal)
    {
        try { NativeLibraries.Load(Lib.Cuda); }
        catch (DllNotFoundException e)
        {
            // A driver file forced by SARA_NATIVE_OVERRIDE_cuda that does not load is a broken setup, not a missing GPU.
            return NativeLibraries.IsForced(Lib.Cuda) ? GpuStartFailure.Broken("CUDA driver override does not load: " + e.Message)
                          : GpuStartFailure.Absent("no CUDA driver: " + e.Message);
        }
        try
        {
            var r = Cuda.cuInit(0);
            if (r == CUresult.CUDA_ERROR_NO_DEVICE) return GpuStartFailure.Absent("no CUDA device");
            if (r == CUresult.CUDA_ERROR_STUB_LIBRARY)
                return GpuStartFailure.Absent("no CUDA driver: libcuda is the CUDA toolkit's stub (CUDA_ERROR_STUB_LIBRARY), not an installed driver");
            if (r != CUresult.CUDA_SUCCESS) return GpuStartFailure.Broken($"CUDA driver failed to initialise: cuInit returned {Cuda.ErrorName(r)}");
            var count = CudaDevice.Count();
            if (count == 0) return GpuStartFailure.Absent("no CUDA device");
            if (ordinal < 0 || ordinal >= count) return GpuStartFailure.Broken($"no CUDA device {ordinal}: the driver sees {count}");
        }
        catch (Exception e) when (e is NativeCallException or EntryPointNotFoundException)
        {
            return GpuStartFailure.Broken(e.Message);
        }
        foreach (var (lib, what) in new[] { (Lib.Cublas, "cuBLAS"), (Lib.Cusolver, "cuSOLVER") })
        {
            try { NativeLibraries.Load(lib); }
            catch (DllNotFoundException e) { return GpuStartFailure.Broken($"no {what}: {e.Message}"); }
        }
        var uncovered = KernelSources.SourceFiles.Where(s => !KernelSources.Contains(Path.ChangeExtension(s, ".fatbin")));
        if (!KernelSources.Contains("sara.fatbin") && uncovered.Any() && !NativeLibraries.IsAvailable(Lib.Nvrtc))
            return GpuStartFailure.Broken("no kernel binaries: no fatbin is embedded for " + string.Join(", ", uncovered) + " and NVRTC (libnvrtc) is not found");
        return null;
    }

    public CudaDevice Device { get; }
    public int CublasVersion { get; }
    public string Description { get; }
    public bool IsEmulated => false;

    /// <summary>The stream every launch, GEMM and solver call goes to (CUstream).</summary>
    public nint Stream => _stream;

    /// <summary>How the kernel modules were obtained so far (fatbin or NVRTC, per file).</summary>
    public IReadOnlyList<string> KernelModuleNotes
    {
        get { lock (_gate) return _kernels.Notes.ToArray(); }
    }

    public nint AllocRaw(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        Enter();
        Cuda.Check(Cuda.cuMemAlloc_v2(out var p, (nuint)Math.Max(bytes, 1)), "cuMemAlloc_v2", $"{bytes} bytes");
        return p;
    }

    public void FreeRaw(nint ptr)
    {
        if (ptr == 0) return;
        Enter();
        Cuda.Check(Cuda.cuMemFree_v2(ptr), "cuMemFree_v2");
    }

    public void CopyToDevice(nint dst, ReadOnlySpan<byte> src)
    {
        if (src.IsEmpty) return;
        RequirePointer(dst, nameof(dst));
        Enter();
        fixed (byte* p = src) Cuda.Check(Cuda.cuMemcpyHtoD_v2(dst, p, (nuint)src.Length), "cuMemcpyHtoD_v2");
    }

    public void CopyToHost(Span<byte> dst, nint src)
    {
        if (dst.IsEmpty) return;
        RequirePointer(src, nameof(src));
        Enter();
        fixed (byte* p = dst) Cuda.Check(Cuda.cuMemcpyDtoH_v2(p, src, (nuint)dst.Length), "cuMemcpyDtoH_v2");
    }

    public void CopyDeviceToDevice(nint dst, nint src, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0) return;
        RequirePointer(dst, nameof(dst));
        RequirePointer(src, nameof(src));
        Enter();
        Cuda.Check(Cuda.cuMemcpyDtoD_v2(dst, src, (nuint)bytes), "cuMemcpyDtoD_v2");
    }

    public void Memset32(nint dst, uint value, long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0) return;
        RequirePointer(dst, nameof(dst));
        Enter();
        Cuda.Check(Cuda.cuMemsetD32_v2(dst, value, (nuint)count), "cuMemsetD32_v2");
    }

    /// <summary>Free and total device memory in bytes (cuMemGetInfo).</summary>
    public (long Free, long Total) MemoryInfo()
    {
        Enter();
        Cuda.Check(Cuda.cuMemGetInfo_v2(out var free, out var total), "cuMemGetInfo_v2");
        return ((long)free, (long)total);
    }

    public void Launch(string kernel, Dim3 grid, Dim3 block, uint dynamicSharedBytes, ReadOnlySpan<KernelArg> args)
    {
        ArgumentException.ThrowIfNullOrEmpty(kernel);
        if (grid.X == 0 || grid.Y == 0 || grid.Z == 0)
            throw new ArgumentOutOfRangeException(nameof(grid), grid, $"Grid extents must be >= 1 (kernel {kernel}).");
        if (block.X == 0 || block.Y == 0 || block.Z == 0 || (ulong)block.X * block.Y * block.Z > 1024)
            throw new ArgumentOutOfRangeException(nameof(block), block, $"Block must have 1..1024 threads (kernel {kernel}).");
        if (args.Length > 256)
            throw new ArgumentOutOfRangeException(nameof(args), args.Length, "At most 256 kernel arguments.");

        nint fn;
        lock (_gate)
        {
            EnterLocked();
            fn = _kernels.GetFunction(kernel);
            if (dynamicSharedBytes > StaticSharedLimit &&
                (!_dynamicSharedSet.TryGetValue(fn, out var set) || set < dynamicSharedBytes))
            {
                // Above 48 KiB a kernel must opt in to its dynamic shared memory size.
                Cuda.Check(Cuda.cuFuncSetAttribute(fn, CUfunction_attribute.MaxDynamicSharedSizeBytes, (int)dynamicSharedBytes),
                    "cuFuncSetAttribute", $"{kernel}: {dynamicSharedBytes} bytes of dynamic shared memory");
                _dynamicSharedSet[fn] = dynamicSharedBytes;
            }
        }

        var n = Math.Max(args.Length, 1);
        var slots = stackalloc KernelArg[n];
        var ptrs = stackalloc nint[n];
        KernelArgPacker.Fill(args, slots, ptrs);
        var r = Cuda.cuLaunchKernel(fn, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, dynamicSharedBytes, _stream, ptrs, null);
        Cuda.Check(r, "cuLaunchKernel", $"{kernel} grid {grid} block {block} shared {dynamicSharedBytes}");
    }

    /// <summary>Register and shared-memory use of a loaded kernel (cuFuncGetAttribute), e.g. to check occupancy.</summary>
    public int KernelAttribute(string kernel, CUfunction_attribute attribute)
    {
        lock (_gate)
        {
            EnterLocked();
            var fn = _kernels.GetFunction(kernel);
            Cuda.Check(Cuda.cuFuncGetAttribute(out var v, attribute, fn), "cuFuncGetAttribute", $"{kernel} {attribute}");
            return v;
        }
    }

    public void Synchronize()
    {
        Enter();
        Cuda.Check(Cuda.cuStreamSynchronize(_stream), "cuStreamSynchronize");
    }

    /// <summary>Milliseconds the GPU spent on <paramref name="work"/> (events recorded on the stream around it).</summary>
    public float TimeMilliseconds(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        Enter();
        Cuda.Check(Cuda.cuEventCreate(out var start, 0), "cuEventCreate");
        nint stop = 0;
        try
        {
            Cuda.Check(Cuda.cuEventCreate(out stop, 0), "cuEventCreate");
            Cuda.Check(Cuda.cuEventRecord(start, _stream), "cuEventRecord");
            work();
            Enter();
            Cuda.Check(Cuda.cuEventRecord(stop, _stream), "cuEventRecord");
            Cuda.Check(Cuda.cuEventSynchronize(stop), "cuEventSynchronize");
            Cuda.Check(Cuda.cuEventElapsedTime(out var ms, start, stop), "cuEventElapsedTime");
            return ms;
        }
        finally
        {
            Cuda.cuEventDestroy_v2(start);
            if (stop != 0) Cuda.cuEventDestroy_v2(stop);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            var error = ReleaseAll();
            if (error != null) throw error;
        }
    }

    /// <summary>Releases in reverse order of creation, continuing past failures; returns the first one.</summary>
    private Exception? ReleaseAll()
    {
        Exception? first = null;
        void Note(CUresult r, string call) { if (r != CUresult.CUDA_SUCCESS) first ??= new NativeCallException(call, Cuda.ErrorName(r), (int)r); }

        if (_context == 0) return null;
        MakeCurrent();
        if (_stream != 0) Note(Cuda.cuStreamSynchronize(_stream), "cuStreamSynchronize");
        first ??= _kernels.UnloadAll();
        if (_solver != 0)
        {
            var s = Cusolver.cusolverDnDestroy(_solver);
            if (s != CusolverStatus.CUSOLVER_STATUS_SUCCESS) first ??= new NativeCallException("cusolverDnDestroy", s.ToString(), (int)s);
        }
        if (_blas != 0)
        {
            var s = Cublas.cublasDestroy_v2(_blas);
            if (s != CublasStatus.CUBLAS_STATUS_SUCCESS) first ??= new NativeCallException("cublasDestroy_v2", s.ToString(), (int)s);
        }
        if (_stream != 0) Note(Cuda.cuStreamDestroy_v2(_stream), "cuStreamDestroy_v2");
        Note(Cuda.cuCtxSetCurrent(0), "cuCtxSetCurrent");
        t_currentContext = 0;
        Note(Cuda.cuDevicePrimaryCtxRelease_v2(Device.Handle), "cuDevicePrimaryCtxRelease_v2");
        return first;
    }

    private void Enter()
    {
        lock (_gate) EnterLocked();
    }

    private void EnterLocked()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        MakeCurrent();
    }

    private void MakeCurrent()
    {
        if (t_currentContext == _context) return;
        Cuda.Check(Cuda.cuCtxSetCurrent(_context), "cuCtxSetCurrent");
        t_currentContext = _context;
    }

    private static void RequirePointer(nint p, string name)
    {
        if (p == 0) throw new ArgumentNullException(name, "Device pointer is null.");
    }
}
