using System.Diagnostics.CodeAnalysis;
using Sara.Bindings;

namespace Sara.Native.Runtime;

/// <summary>
/// The kernel runtime on a real GPU: a context (the device's primary one, or the caller's), one stream (its own, or the
/// caller's, or an implicit default stream), cuBLAS and cuSOLVER handles bound to that stream, and the kernels (embedded
/// fatbins, else NVRTC-compiled embedded sources). Every launch, copy, memset, cuBLAS and cuSOLVER call goes to that
/// stream; the host waits for it only in <see cref="Synchronize"/>, <see cref="CopyToHost"/>, the dense solvers (their
/// status word), <see cref="TimeMilliseconds"/> and <see cref="Dispose"/>. Every entry point makes the context current on
/// the calling thread first (and leaves it current, as cudaSetDevice does), so any thread may use it (not concurrently).
/// </summary>
public sealed unsafe partial class GpuRuntime : IKernelRuntime
{
    private readonly nint _context, _stream, _blas, _solver;
    private readonly bool _ownsContext, _ownsStream, _haveStream;
    private readonly GpuKernelModules _kernels;
    private readonly Dictionary<nint, (int Static, uint DynamicSet)> _sharedMemory = new();
    private readonly object _gate = new();
    private Exception? _fault;
    private long _copiesToDevice, _copiesToHost, _hostWaits;
    private bool _disposed;

    /// <summary>Opens device <paramref name="ordinal"/>'s primary context with a stream of its own; throws when the driver, device or libraries are missing.</summary>
    public GpuRuntime(int ordinal = 0) : this(new RuntimeOptions { Device = ordinal }) { }

    /// <summary>Opens the context and stream <paramref name="options"/> name; throws when that is not possible (see <see cref="TryStart(RuntimeOptions, out GpuRuntime?, out GpuStartFailure?)"/>).</summary>
    public GpuRuntime(RuntimeOptions options) : this(options, OpenContext(options)) { }

    private GpuRuntime(RuntimeOptions options, (nint Context, bool Owns, CudaDevice Device) opened)
    {
        (_context, _ownsContext, Device) = opened;
        Options = options;
        Pool = new MemoryPool(AllocRaw, FreeRaw);
        _kernels = new GpuKernelModules(Device.Arch, Device.ComputeMajor * 10 + Device.ComputeMinor);
        try
        {
            if (options.Stream is { } given)
            {
                _stream = given;
                RequireStreamOfContext(given);
            }
            else
            {
                Check(Cuda.cuStreamCreate(out _stream, 0), "cuStreamCreate");
                _ownsStream = true;
            }
            _haveStream = true;
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
            _disposed = true;
            throw;
        }
        Description = $"cuda:{Device.Ordinal} {Device.Name} ({Device.Arch}, {Device.MultiprocessorCount} SMs, " +
                      $"driver {Device.DriverVersion / 1000}.{Device.DriverVersion % 1000 / 10}, cuBLAS {CublasVersion}; " +
                      $"{options.DescribeContext()}, {RuntimeOptions.DescribeStream(options.Stream)})";
    }

    /// <summary>cuInit, then the primary context of the device asked for (retained), or the given or current context (borrowed).</summary>
    private static (nint Context, bool Owns, CudaDevice Device) OpenContext(RuntimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Cuda.Check(Cuda.cuInit(0), "cuInit");
        if (!options.UseCurrentContext && options.Context == 0)
        {
            var device = CudaDevice.Query(options.Device);
            Cuda.Check(Cuda.cuDevicePrimaryCtxRetain(out var primary, device.Handle), "cuDevicePrimaryCtxRetain");
            var r = Cuda.cuCtxSetCurrent(primary);
            if (r != CUresult.CUDA_SUCCESS)
            {
                Cuda.cuDevicePrimaryCtxRelease_v2(device.Handle);
                Cuda.Check(r, "cuCtxSetCurrent");
            }
            return (primary, true, device);
        }
        var context = options.Context;
        if (options.UseCurrentContext)
        {
            Cuda.Check(Cuda.cuCtxGetCurrent(out context), "cuCtxGetCurrent");
            if (context == 0) throw new ArgumentException("UseCurrentContext: no CUDA context is current on this thread.", nameof(options));
        }
        Cuda.Check(Cuda.cuCtxSetCurrent(context), "cuCtxSetCurrent", "the caller's context");
        Cuda.Check(Cuda.cuCtxGetDevice(out var handle), "cuCtxGetDevice");
        return (context, false, CudaDevice.FromHandle(handle));
    }

    /// <summary>A stream handle other than the implicit ones must belong to this runtime's context.</summary>
    private void RequireStreamOfContext(nint stream)
    {
        if (stream is 0 or Cuda.CU_STREAM_LEGACY or Cuda.CU_STREAM_PER_THREAD) return;
        Check(Cuda.cuStreamGetCtx(stream, out var owner), "cuStreamGetCtx", $"stream 0x{stream:x}");
        if (owner != _context)
            throw new ArgumentException($"Stream 0x{stream:x} belongs to context 0x{owner:x}, not to the runtime's context 0x{_context:x}.", nameof(RuntimeOptions.Stream));
    }

    /// <summary>
    /// Opens a runtime as <paramref name="options"/> say, or returns false with why not, classified as in
    /// <see cref="TryStart(int, out GpuRuntime?, out GpuStartFailure?)"/>; a stream of another context is a failure to
    /// start, not a missing device. Throws ArgumentException for contradictory options.
    /// </summary>
    public static bool TryStart(RuntimeOptions options, [NotNullWhen(true)] out GpuRuntime? runtime, [NotNullWhen(false)] out GpuStartFailure? failure)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        runtime = null;
        failure = Probe(options.Context != 0 || options.UseCurrentContext ? null : options.Device);
        if (failure is not null) return false;
        try
        {
            runtime = new GpuRuntime(options);
            return true;
        }
        catch (Exception e) when (e is NativeCallException or DllNotFoundException or EntryPointNotFoundException or ArgumentException)
        {
            failure = GpuStartFailure.Broken(e.Message);
            return false;
        }
    }

    /// <summary>
    /// Opens device <paramref name="ordinal"/>, with the failure classified: <see cref="GpuStartFailure.NoDevice"/>
    /// when this machine has no NVIDIA GPU to use (no driver library under its usual names, the toolkit's stub driver,
    /// cuInit finds no device, or the driver counts none); every other failure (a driver that does not initialise, a
    /// forced driver file that does not load, a missing cuBLAS/cuSOLVER, no kernel binaries, a failing call) is a GPU
    /// that is there but cannot be used.
    /// </summary>
    public static bool TryStart(int ordinal, [NotNullWhen(true)] out GpuRuntime? runtime, [NotNullWhen(false)] out GpuStartFailure? failure) =>
        TryStart(new RuntimeOptions { Device = ordinal }, out runtime, out failure);

    /// <summary>Like <see cref="TryStart(int, out GpuRuntime?, out GpuStartFailure?)"/>, with the reason as text ("" on success).</summary>
    public static bool TryCreate(int ordinal, [NotNullWhen(true)] out GpuRuntime? runtime, out string whyNot)
    {
        var ok = TryStart(ordinal, out runtime, out var failure);
        whyNot = failure?.Reason ?? "";
        return ok;
    }

    public static bool TryCreate([NotNullWhen(true)] out GpuRuntime? runtime, out string whyNot) => TryCreate(0, out runtime, out whyNot);

    /// <summary>Null when a device (<paramref name="ordinal"/>, or any when null) looks usable, else why not.</summary>
    private static GpuStartFailure? Probe(int? ordinal)
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
            if (ordinal is { } o && (o < 0 || o >= count)) return GpuStartFailure.Broken($"no CUDA device {o}: the driver sees {count}");
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
    public RuntimeOptions Options { get; }
    public int CublasVersion { get; }
    public string Description { get; }
    public bool IsEmulated => false;
    public MemoryPool Pool { get; }

    /// <summary>The CUcontext everything runs in (the primary context unless the options named one).</summary>
    public nint Context => _context;

    /// <summary>The stream every launch, copy, memset, GEMM and solver call goes to (CUstream; 0x1 / 0x2 for the implicit streams).</summary>
    public nint Stream => _stream;

    public Exception? Fault => Volatile.Read(ref _fault);

    public RuntimeCounters Counters =>
        new(Interlocked.Read(ref _copiesToDevice), Interlocked.Read(ref _copiesToHost), Interlocked.Read(ref _hostWaits));

    /// <summary>How the kernel modules were obtained so far (fatbin or NVRTC, per file).</summary>
    public IReadOnlyList<string> KernelModuleNotes
    {
        get { lock (_gate) return _kernels.Notes.ToArray(); }
    }

    public nint AllocRaw(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        Enter();
        Check(Cuda.cuMemAlloc_v2(out var p, (nuint)Math.Max(bytes, 1)), "cuMemAlloc_v2", $"{bytes} bytes");
        return p;
    }

    public void FreeRaw(nint ptr)
    {
        if (ptr == 0) return;
        Enter();
        Check(Cuda.cuMemFree_v2(ptr), "cuMemFree_v2");
    }

    public void CopyToDevice(nint dst, ReadOnlySpan<byte> src)
    {
        if (src.IsEmpty) return;
        RequirePointer(dst, nameof(dst));
        Enter();
        // From pageable memory the driver stages the bytes before returning; page-locked memory must stay unchanged until the stream reaches the copy.
        fixed (byte* p = src) Check(Cuda.cuMemcpyHtoDAsync_v2(dst, p, (nuint)src.Length, _stream), "cuMemcpyHtoDAsync_v2");
        Interlocked.Increment(ref _copiesToDevice);
    }

    public void CopyToHost(Span<byte> dst, nint src)
    {
        if (dst.IsEmpty) return;
        RequirePointer(src, nameof(src));
        Enter();
        fixed (byte* p = dst)
        {
            Check(Cuda.cuMemcpyDtoHAsync_v2(p, src, (nuint)dst.Length, _stream), "cuMemcpyDtoHAsync_v2");
            Check(Cuda.cuStreamSynchronize(_stream), "cuStreamSynchronize", "after a copy to the host");   // inside fixed: dst stays put
        }
        Interlocked.Increment(ref _copiesToHost);
        Interlocked.Increment(ref _hostWaits);
    }

    public void CopyDeviceToDevice(nint dst, nint src, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0) return;
        RequirePointer(dst, nameof(dst));
        RequirePointer(src, nameof(src));
        Enter();
        Check(Cuda.cuMemcpyDtoDAsync_v2(dst, src, (nuint)bytes, _stream), "cuMemcpyDtoDAsync_v2");
    }

    public void Memset32(nint dst, uint value, long count)
    {
        if (EnterMemset(dst, count)) Check(Cuda.cuMemsetD32Async(dst, value, (nuint)count, _stream), "cuMemsetD32Async");
    }

    public void Memset16(nint dst, ushort value, long count)
    {
        if (EnterMemset(dst, count)) Check(Cuda.cuMemsetD16Async(dst, value, (nuint)count, _stream), "cuMemsetD16Async");
    }

    /// <summary>Checks a memset's arguments; false when there is nothing to set, else makes the context current.</summary>
    private bool EnterMemset(nint dst, long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0) return false;
        RequirePointer(dst, nameof(dst));
        Enter();
        return true;
    }

    /// <summary>
    /// TF32 for float32 GEMMs (cublasSetMathMode CUBLAS_TF32_TENSOR_OP_MATH): up to ~7x the FP32 rate on an H200, inputs
    /// rounded to 10 mantissa bits. Off by default: results then match the float64 oracles to float32 rounding.
    /// </summary>
    public bool AllowTf32
    {
        get
        {
            Enter();
            Cublas.Check(Cublas.cublasGetMathMode(_blas, out var mode), "cublasGetMathMode");
            return mode == CublasMath.Tf32TensorOp;
        }
        set
        {
            Enter();
            Cublas.Check(Cublas.cublasSetMathMode(_blas, value ? CublasMath.Tf32TensorOp : CublasMath.Default), "cublasSetMathMode");
        }
    }

    /// <summary>Free and total device memory in bytes (cuMemGetInfo).</summary>
    public (long Free, long Total) MemoryInfo()
    {
        Enter();
        Check(Cuda.cuMemGetInfo_v2(out var free, out var total), "cuMemGetInfo_v2");
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
            if (!_sharedMemory.TryGetValue(fn, out var shared))
            {
                Check(Cuda.cuFuncGetAttribute(out var staticBytes, CUfunction_attribute.SharedSizeBytes, fn), "cuFuncGetAttribute", $"{kernel} SharedSizeBytes");
                _sharedMemory[fn] = shared = (staticBytes, 0);
            }
            if (SharedMemoryOptIn.Needed(kernel, shared.Static, dynamicSharedBytes, Device.MaxSharedBytesPerBlockOptin, shared.DynamicSet))
            {
                // Above 48 KiB of static + dynamic shared memory a kernel must opt in to its dynamic size.
                Check(Cuda.cuFuncSetAttribute(fn, CUfunction_attribute.MaxDynamicSharedSizeBytes, (int)dynamicSharedBytes),
                    "cuFuncSetAttribute", $"{kernel}: {shared.Static} static + {dynamicSharedBytes} dynamic bytes of shared memory");
                _sharedMemory[fn] = (shared.Static, dynamicSharedBytes);
            }
        }

        var n = Math.Max(args.Length, 1);
        var slots = stackalloc KernelArg[n];
        var ptrs = stackalloc nint[n];
        KernelArgPacker.Fill(args, slots, ptrs);
        var r = Cuda.cuLaunchKernel(fn, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, dynamicSharedBytes, _stream, ptrs, null);
        Check(r, "cuLaunchKernel", $"{kernel} grid {grid} block {block} shared {dynamicSharedBytes}");
    }

    /// <summary>Register and shared-memory use of a loaded kernel (cuFuncGetAttribute), e.g. to check occupancy.</summary>
    public int KernelAttribute(string kernel, CUfunction_attribute attribute)
    {
        lock (_gate)
        {
            EnterLocked();
            var fn = _kernels.GetFunction(kernel);
            Check(Cuda.cuFuncGetAttribute(out var v, attribute, fn), "cuFuncGetAttribute", $"{kernel} {attribute}");
            return v;
        }
    }

    public void Synchronize()
    {
        Enter();
        Check(Cuda.cuStreamSynchronize(_stream), "cuStreamSynchronize");
        Interlocked.Increment(ref _hostWaits);
    }

    /// <summary>Milliseconds the GPU spent on <paramref name="work"/> (events recorded on the stream around it; waits for the second).</summary>
    public float TimeMilliseconds(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        Enter();
        Check(Cuda.cuEventCreate(out var start, 0), "cuEventCreate");
        nint stop = 0;
        try
        {
            Check(Cuda.cuEventCreate(out stop, 0), "cuEventCreate");
            Check(Cuda.cuEventRecord(start, _stream), "cuEventRecord");
            work();
            Enter();
            Check(Cuda.cuEventRecord(stop, _stream), "cuEventRecord");
            Check(Cuda.cuEventSynchronize(stop), "cuEventSynchronize");
            Interlocked.Increment(ref _hostWaits);
            Check(Cuda.cuEventElapsedTime(out var ms, start, stop), "cuEventElapsedTime");
            return ms;
        }
        finally
        {
            Cuda.cuEventDestroy_v2(start);
            if (stop != 0) Cuda.cuEventDestroy_v2(stop);
        }
    }

    /// <summary>
    /// Waits for the stream, frees the pool's blocks, unloads the kernels, destroys the library handles and the runtime's own
    /// stream, and releases the primary context it retained (a borrowed context and stream stay). Goes on past every failure.
    /// After a sticky fault already reported to a caller (<see cref="Fault"/>) it does not throw: the failures are that fault's
    /// echo and the exception the caller has is the one that matters. Otherwise (a fault first met here included) it throws
    /// the first failure, after releasing everything.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            var reported = Fault;   // a fault first met here has reached no caller yet: that one is thrown
            var error = ReleaseAll();
            _disposed = true;
            if (error != null && reported == null) throw error;
        }
    }

    /// <summary>Releases in reverse order of creation, continuing past failures; returns the first one.</summary>
    private Exception? ReleaseAll()
    {
        Exception? first = null;
        void Note(CUresult r, string call) { if (r != CUresult.CUDA_SUCCESS) first ??= new NativeCallException(call, Cuda.ErrorName(r), (int)r); }

        if (_context == 0) return null;
        Note(Cuda.cuCtxSetCurrent(_context), "cuCtxSetCurrent");
        if (_haveStream) Note(Cuda.cuStreamSynchronize(_stream), "cuStreamSynchronize");   // queued work ends before its memory goes
        try { Pool.Dispose(); }
        catch (Exception e) { first ??= e; }
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
        if (_ownsStream) Note(Cuda.cuStreamDestroy_v2(_stream), "cuStreamDestroy_v2");
        if (_ownsContext)
        {
            Note(Cuda.cuCtxSetCurrent(0), "cuCtxSetCurrent");
            Note(Cuda.cuDevicePrimaryCtxRelease_v2(Device.Handle), "cuDevicePrimaryCtxRelease_v2");
        }
        return first;
    }

    /// <summary>Throws for a failed driver call, remembering a sticky fault (the first) in <see cref="Fault"/>.</summary>
    private void Check(CUresult status, string call, string? detail = null)
    {
        if (status == CUresult.CUDA_SUCCESS) return;
        var e = new NativeCallException(call, Cuda.ErrorName(status), (int)status, detail);
        if (Cuda.IsSticky(status)) Interlocked.CompareExchange(ref _fault, e, null);
        throw e;
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

    /// <summary>Makes the context current when another one (or none) is: asked of the driver each time, since the caller may switch contexts between our calls.</summary>
    private void MakeCurrent()
    {
        Check(Cuda.cuCtxGetCurrent(out var current), "cuCtxGetCurrent");
        if (current != _context) Check(Cuda.cuCtxSetCurrent(_context), "cuCtxSetCurrent");
    }

    private static void RequirePointer(nint p, string name)
    {
        if (p == 0) throw new ArgumentNullException(name, "Device pointer is null.");
    }
}
