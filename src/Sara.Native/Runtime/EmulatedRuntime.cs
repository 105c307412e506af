using Sara.Bindings;

namespace Sara.Native.Runtime;

/// <summary>
/// The kernel runtime without a GPU: host memory, the kernels compiled by g++ into libsara_emu.so and run there
/// with CUDA semantics, OpenBLAS for GEMM and LAPACKE for the dense solvers. The same CudaBackend code drives it.
/// </summary>
public sealed unsafe class EmulatedRuntime : IKernelRuntime
{
    private readonly Dictionary<string, nint> _functions = new();

    public EmulatedRuntime()
    {
        NativeLibraries.Load(Lib.Emulator);
        NativeLibraries.Load(Lib.OpenBlas);
        NativeLibraries.Load(Lib.Lapacke);
        Description = $"emulator ({Emulator.GetThreads()} threads, {Emulator.KernelCount()} kernels, {Emulator.Version()})";
    }

    /// <summary>False (with the reason) when the emulator or its BLAS/LAPACK libraries cannot be loaded.</summary>
    public static bool TryCreate(out EmulatedRuntime? runtime, out string whyNot)
    {
        try
        {
            runtime = new EmulatedRuntime();
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

    public nint AllocRaw(long bytes) => HostMemory.Alloc(bytes);
    public void FreeRaw(nint ptr) => HostMemory.Free(ptr);
    public void CopyToDevice(nint dst, ReadOnlySpan<byte> src) => HostMemory.CopyIn(dst, src);
    public void CopyToHost(Span<byte> dst, nint src) => HostMemory.CopyOut(dst, src);
    public void CopyDeviceToDevice(nint dst, nint src, long bytes) => HostMemory.Copy(dst, src, bytes);
    public void Memset32(nint dst, uint value, long count) => HostMemory.Fill32(dst, value, count);

    public void Launch(string kernel, Dim3 grid, Dim3 block, uint dynamicSharedBytes, ReadOnlySpan<KernelArg> args)
    {
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
        => HostBlas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, rankKernels: false);

    public void GemmStridedBatched(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, long strideA,
        nint b, int ldb, long strideB, float beta, nint c, int ldc, long strideC, int batch)
        => HostBlas.SgemmStridedBatched(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch, rankKernels: false);

    public void Gesvd(int m, int n, nint a, nint s, nint u, nint vt) => HostLapack.Gesvd(m, n, a, s, u, vt);
    public void Potrf(int n, nint a) => HostLapack.Potrf(n, a);
    public void Syevd(int n, nint a, nint w) => HostLapack.Syevd(n, a, w);

    public void Synchronize() { }

    public void Dispose() { }
}
