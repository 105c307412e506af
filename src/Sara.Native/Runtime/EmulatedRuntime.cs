using Sara.Bindings;
using Sara.Native.Tensors;

namespace Sara.Native.Runtime;

/// <summary>
/// The kernel runtime without a GPU: host memory, the kernels compiled by g++ into libsara_emu.so and run there
/// with CUDA semantics, OpenBLAS for GEMM and LAPACKE for the dense solvers. The same CudaBackend code drives it.
/// It takes the GPU runtime's <see cref="RuntimeOptions"/> and reports them (every call runs in order on the calling
/// thread, so any stream is honoured), counts copies and host waits at the points where the GPU runtime has them, and
/// models the context's life: memory still allocated when it is disposed is released with it, as a context's is.
/// Two seams reach failure paths a GPU shows rarely: <see cref="MemoryLimit"/> (cuMemAlloc's out-of-memory) and
/// <see cref="InjectFault"/> (a sticky device fault). Device memory comes from the emulator (sara_emu_malloc), so its
/// checks know every buffer; in sanitizer mode (SARA_EMU_SANITIZE=1 or <see cref="Emulator.SetSanitize"/> before the
/// runtime is created) each buffer has guard pages and redzones and the pool neither caches nor rounds up.
/// </summary>
public sealed unsafe class EmulatedRuntime : IKernelRuntime
{
    private static long s_nextStream = 0x5A0000;

    private readonly Dictionary<string, nint> _functions = new();
    private readonly Dictionary<nint, long> _live = new();
    private readonly object _gate = new();
    private CUresult? _injected;
    private Exception? _fault;
    private long _liveBytes, _copiesToDevice, _copiesToHost, _hostWaits;
    private bool _disposed;

    public EmulatedRuntime() : this(RuntimeOptions.Default) { }

    public EmulatedRuntime(RuntimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        NativeLibraries.Load(Lib.Emulator);
        NativeLibraries.Load(Lib.OpenBlas);
        NativeLibraries.Load(Lib.Lapacke);
        Options = options;
        Stream = options.Stream ?? (nint)Interlocked.Increment(ref s_nextStream);
        Sanitizing = Emulator.Sanitizing();
        Pool = new MemoryPool(AllocRaw, FreeRaw, caching: !Sanitizing);
        LibraryPath = NativeLibraries.LoadedPath(Lib.Emulator, "sara_emu_version");
        Description = $"emulator ({Emulator.GetThreads()} threads, {Emulator.KernelCount()} kernels, {Emulator.Version()}" +
                      $"{(Sanitizing ? ", sanitizer mode" : "")}; {options.DescribeContext()}, " +
                      $"{RuntimeOptions.DescribeStream(options.Stream)}; {LibraryPath ?? "libsara_emu.so"})";
    }

    /// <summary>False (with the reason) when the emulator or its BLAS/LAPACK libraries cannot be loaded.</summary>
    public static bool TryCreate(out EmulatedRuntime? runtime, out string whyNot) => TryCreate(RuntimeOptions.Default, out runtime, out whyNot);

    public static bool TryCreate(RuntimeOptions options, out EmulatedRuntime? runtime, out string whyNot)
    {
        try
        {
            runtime = new EmulatedRuntime(options);
            whyNot = "";
            return true;
        }
        catch (DllNotFoundException e)
        {
            runtime = null;
            whyNot = e.Message;
            return false;
        }
    }

    public string Description { get; }
    public bool IsEmulated => true;

    /// <summary>The libsara_emu.so file in use (from the NuGet package's runtimes/linux-x64/native, or the repository's artifacts/native).</summary>
    public string? LibraryPath { get; }
    public RuntimeOptions Options { get; }
    public MemoryPool Pool { get; }

    /// <summary>Created in sanitizer mode: every tensor is its own exact-size allocation, so overruns hit a redzone.</summary>
    public bool Sanitizing { get; }

    /// <summary>The stream handle given in the options, else a stand-in for a stream of its own (an opaque number).</summary>
    public nint Stream { get; }

    public Exception? Fault { get { lock (_gate) return _fault; } }

    public RuntimeCounters Counters { get { lock (_gate) return new(_copiesToDevice, _copiesToHost, _hostWaits); } }

    /// <summary>Bytes allocated by <see cref="AllocRaw"/> and not freed (the pool's reserve included).</summary>
    public long LiveBytes { get { lock (_gate) return _liveBytes; } }

    /// <summary>Allocations not freed yet; 0 after Dispose, whatever happened before.</summary>
    public int LiveAllocations { get { lock (_gate) return _live.Count; } }

    /// <summary>Seam: the "device memory" size. An allocation past it fails as cuMemAlloc does (CUDA_ERROR_OUT_OF_MEMORY). Null = no limit.</summary>
    public long? MemoryLimit { get; set; }

    /// <summary>
    /// Seam: behave as a context after a sticky fault (default CUDA_ERROR_ILLEGAL_ADDRESS, as after a kernel's stray write):
    /// every later call fails with it, the first such failure becomes <see cref="Fault"/>, and Dispose still releases everything.
    /// </summary>
    public void InjectFault(CUresult status = CUresult.CUDA_ERROR_ILLEGAL_ADDRESS)
    {
        if (!Cuda.IsSticky(status)) throw new ArgumentException($"{status} is not a sticky error.", nameof(status));
        lock (_gate) _injected = status;
    }

    public nint AllocRaw(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        lock (_gate)
        {
            Enter("cuMemAlloc_v2");
            if (MemoryLimit is { } limit && _liveBytes + bytes > limit)
                throw new NativeCallException("cuMemAlloc_v2", nameof(CUresult.CUDA_ERROR_OUT_OF_MEMORY), (int)CUresult.CUDA_ERROR_OUT_OF_MEMORY,
                    $"{bytes} bytes; the emulated device holds {_liveBytes} of {limit}");
            var p = Emulator.Malloc((ulong)bytes);
            if (p == 0) throw new OutOfMemoryException(Emulator.LastError());
            _live[p] = bytes;
            _liveBytes += bytes;
            return p;
        }
    }

    public void FreeRaw(nint ptr)
    {
        if (ptr == 0) return;
        lock (_gate)
        {
            Enter("cuMemFree_v2");
            if (!_live.Remove(ptr, out var bytes))
                throw new NativeCallException("cuMemFree_v2", nameof(CUresult.CUDA_ERROR_INVALID_VALUE), (int)CUresult.CUDA_ERROR_INVALID_VALUE,
                    $"0x{ptr:x} was not allocated by this runtime");
            _liveBytes -= bytes;
            EmuFree(ptr);
        }
    }

    public void CopyToDevice(nint dst, ReadOnlySpan<byte> src)
    {
        Enter("cuMemcpyHtoDAsync_v2", count: ref _copiesToDevice);
        HostMemory.CopyIn(dst, src);
    }

    public void CopyToHost(Span<byte> dst, nint src)
    {
        Enter("cuMemcpyDtoHAsync_v2", count: ref _copiesToHost);
        lock (_gate) _hostWaits++;
        HostMemory.CopyOut(dst, src);
    }

    public void CopyDeviceToDevice(nint dst, nint src, long bytes)
    {
        Enter("cuMemcpyDtoDAsync_v2");
        HostMemory.Copy(dst, src, bytes);
    }

    public void Memset32(nint dst, uint value, long count)
    {
        Enter("cuMemsetD32Async");
        HostMemory.Fill32(dst, value, count);
    }

    public void Memset16(nint dst, ushort value, long count)
    {
        Enter("cuMemsetD16Async");
        HostMemory.Fill16(dst, value, count);
    }

    public void Launch(string kernel, Dim3 grid, Dim3 block, uint dynamicSharedBytes, ReadOnlySpan<KernelArg> args)
    {
        Enter("cuLaunchKernel");
        nint fn;
        lock (_functions)
        {
            if (!_functions.TryGetValue(kernel, out fn))
            {
                fn = Emulator.GetFunction(kernel);
                if (fn == 0) throw new NativeCallException("sara_emu_get_function", "EMU_KERNEL_NOT_FOUND", 1, kernel);
                _functions[kernel] = fn;
            }
        }
        var n = Math.Max(args.Length, 1);
        var slots = stackalloc KernelArg[n];
        var ptrs = stackalloc nint[n];
        KernelArgPacker.Fill(args, slots, ptrs);
        var rc = Emulator.Launch(fn, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, dynamicSharedBytes, (nint)ptrs);
        if (rc != 0) throw new NativeCallException("sara_emu_launch", "EMU_LAUNCH_FAILED", rc, $"{kernel}: {Emulator.LastError()}");
    }

    public void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, nint b, int ldb,
        float beta, nint c, int ldc)
    {
        if (!GemmArgs.Check(transA, transB, m, n, k, lda, ldb, ldc)) return;
        Enter("cublasSgemm_v2");
        HostBlas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, rankKernels: false);
    }

    public void GemmStridedBatched(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, long strideA,
        nint b, int ldb, long strideB, float beta, nint c, int ldc, long strideC, int batch)
    {
        if (!GemmArgs.Check(transA, transB, m, n, k, lda, ldb, ldc) || batch == 0) return;
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        Enter("cublasSgemmStridedBatched");
        HostBlas.SgemmStridedBatched(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch, rankKernels: false);
    }

    /// <summary>
    /// cublasGemmEx's stand-in: the same math (16-bit values widened exactly, float32 sums, one rounding of a 16-bit c) on
    /// OpenBLAS, with its float32 panels from this runtime's pool (where cuBLAS would use its workspace).
    /// </summary>
    public void GemmEx(bool transA, bool transB, int m, int n, int k, float alpha, nint a, DType aType, int lda,
        nint b, DType bType, int ldb, float beta, nint c, DType cType, int ldc)
    {
        MixedGemm.CheckGemmExTypes(aType, bType, cType);
        if (!GemmArgs.Check(transA, transB, m, n, k, lda, ldb, ldc)) return;
        Enter("cublasGemmEx");
        MixedGemm.Run(new HostGemmPanels(Pool, rankKernels: false), transA, transB, m, n, k, alpha,
            new GemmOperand(a, aType, lda), new GemmOperand(b, bType, ldb), beta, new GemmOperand(c, cType, ldc));
    }

    /// <summary>Accepted and reported; the emulator has no tensor cores and computes float32 GEMMs in full float32 either way.</summary>
    public bool AllowTf32 { get; set; }

    // The GPU's solvers each wait for the stream once (their status word): counted here the same way.
    public void Gesvd(int m, int n, nint a, nint s, nint u, nint vt)
    {
        Enter("cusolverDnSgesvd", count: ref _hostWaits);
        HostLapack.Gesvd(m, n, a, s, u, vt);
    }

    public void Potrf(int n, nint a)
    {
        Enter("cusolverDnSpotrf", count: ref _hostWaits);
        HostLapack.Potrf(n, a);
    }

    public void Syevd(int n, nint a, nint w)
    {
        Enter("cusolverDnSsyevd", count: ref _hostWaits);
        HostLapack.Syevd(n, a, w);
    }

    public void Dsyevd(int n, nint a, nint w)
    {
        Enter("cusolverDnDsyevd", count: ref _hostWaits);
        HostLapack.Dsyevd(n, a, w);
    }

    public void Synchronize() => Enter("cuStreamSynchronize", count: ref _hostWaits);

    /// <summary>
    /// Trims the pool, then releases whatever is still allocated (a context's memory goes with it). After a fault already
    /// reported to a caller the failures on the way are that fault's echo and are not thrown; otherwise the first is,
    /// after releasing everything.
    /// </summary>
    public void Dispose()
    {
        Exception? first = null, reported;
        lock (_gate)
        {
            if (_disposed) return;
            reported = _fault;   // a fault first met here has reached no caller yet: that one is thrown
        }
        try { Pool.Dispose(); }
        catch (Exception e) { first = e; }
        lock (_gate)
        {
            foreach (var p in _live.Keys) EmuFree(p);
            _live.Clear();
            _liveBytes = 0;
            _disposed = true;
            if (first != null && reported == null) throw first;
        }
    }

    private static void EmuFree(nint ptr)
    {
        if (Emulator.Free(ptr) != 0) throw new NativeCallException("sara_emu_free", "EMU_FREE_FAILED", 1, Emulator.LastError());
    }

    private void Enter(string call)
    {
        long none = 0;
        Enter(call, ref none);
    }

    /// <summary>Throws as the GPU runtime would after Dispose or a sticky fault; else bumps <paramref name="count"/>.</summary>
    private void Enter(string call, ref long count)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_injected is { } status)
            {
                var e = new NativeCallException(call, status.ToString(), (int)status, "emulated sticky fault");
                _fault ??= e;
                throw e;
            }
            count++;
        }
    }
}
