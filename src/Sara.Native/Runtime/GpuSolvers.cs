using Sara.Bindings;
using Sara.Native.Tensors;

namespace Sara.Native.Runtime;

// GpuRuntime's row-major GEMM and dense solvers over column-major cuBLAS/cuSOLVER, all on the runtime's stream.
// A row-major buffer of shape [r, c] is the column-major matrix of shape [c, r]: its transpose.
// Workspaces come from the runtime's pool; each solver waits for its stream once, to read its status word.
public sealed unsafe partial class GpuRuntime
{
    public void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, nint b, int ldb,
        float beta, nint c, int ldc)
    {
        if (!GemmArgs.Check(transA, transB, m, n, k, lda, ldb, ldc)) return;
        Enter();
        var (opA, opB) = Operations(transA, transB);
        Cublas.Check(Cublas.cublasSgemm_v2(_blas, opB, opA, n, m, k, &alpha, b, ldb, a, lda, &beta, c, ldc), "cublasSgemm_v2");
    }

    public void GemmStridedBatched(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, long strideA,
        nint b, int ldb, long strideB, float beta, nint c, int ldc, long strideC, int batch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        if (!GemmArgs.Check(transA, transB, m, n, k, lda, ldb, ldc) || batch == 0) return;
        Enter();
        var (opA, opB) = Operations(transA, transB);   // as Gemm, item by item
        Cublas.Check(Cublas.cublasSgemmStridedBatched(_blas, opB, opA, n, m, k, &alpha, b, ldb, strideB, a, lda, strideA, &beta, c, ldc, strideC, batch),
            "cublasSgemmStridedBatched");
    }

    /// <summary>cublasGemmEx, CUBLAS_COMPUTE_32F (tensor cores for the 16-bit inputs, float32 accumulation).</summary>
    public void GemmEx(bool transA, bool transB, int m, int n, int k, float alpha, nint a, DType aType, int lda,
        nint b, DType bType, int ldb, float beta, nint c, DType cType, int ldc)
    {
        MixedGemm.CheckGemmExTypes(aType, bType, cType);
        if (!GemmArgs.Check(transA, transB, m, n, k, lda, ldb, ldc)) return;
        Enter();
        var (opA, opB) = Operations(transA, transB);
        Cublas.Check(Cublas.cublasGemmEx(_blas, opB, opA, n, m, k, &alpha, b, DataType(bType), ldb, a, DataType(aType), lda,
            &beta, c, DataType(cType), ldc, CublasComputeType.CUBLAS_COMPUTE_32F, CublasGemmAlgo.Default), "cublasGemmEx");
    }

    /// <summary>Row-major C = op(A) op(B)  &lt;=&gt;  column-major C^T = op(B)^T op(A)^T, and the buffers already hold A^T and B^T.</summary>
    private static (CublasOperation A, CublasOperation B) Operations(bool transA, bool transB) =>
        (transA ? CublasOperation.T : CublasOperation.N, transB ? CublasOperation.T : CublasOperation.N);

    private static CudaDataType DataType(DType t) => t switch
    {
        DType.BF16 => CudaDataType.CUDA_R_16BF,
        DType.F16 => CudaDataType.CUDA_R_16F,
        _ => CudaDataType.CUDA_R_32F,
    };

    public void Gesvd(int m, int n, nint a, nint s, nint u, nint vt)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        var r = Math.Min(m, n);
        if (r == 0) return;
        RequirePointer(a, nameof(a));
        RequirePointer(s, nameof(s));
        Enter();
        if (n >= m)
        {
            // The buffer is column-major A^T (n x m, rows >= cols, as gesvd needs) = V S U^T:
            // its left factor V (n x r, ld n) is row-major vt[r,n]; its right factor U^T (r x m, ld r) is row-major u[m,r].
            SolveGesvd(n, m, a, s, left: vt, ldLeft: n, rightT: u, ldRightT: r);
            return;
        }
        // Tall A (m > n): transpose into column-major A (m x n), factor it, transpose the factors into place.
        using var at = Scratch.Floats(this, (long)m * n);
        Transpose(srcRows: n, srcCols: m, src: a, dst: at.Ptr);  // column-major A^T (n x m) -> A (m x n)
        using var uc = Scratch.Floats(this, u != 0 ? (long)m * r : 0);
        using var vtc = Scratch.Floats(this, vt != 0 ? (long)r * n : 0);
        SolveGesvd(m, n, at.Ptr, s, left: uc.Ptr, ldLeft: m, rightT: vtc.Ptr, ldRightT: r);
        if (u != 0) Transpose(srcRows: m, srcCols: r, src: uc.Ptr, dst: u);     // column-major U (m x r) -> row-major u[m,r]
        if (vt != 0) Transpose(srcRows: r, srcCols: n, src: vtc.Ptr, dst: vt);  // column-major V^T (r x n) -> row-major vt[r,n]
    }

    /// <summary>cusolverDnSgesvd on column-major rows x cols (rows >= cols); 'S' for each factor asked for, 'N' otherwise.</summary>
    private void SolveGesvd(int rows, int cols, nint a, nint s, nint left, int ldLeft, nint rightT, int ldRightT)
    {
        Cusolver.Check(Cusolver.cusolverDnSgesvd_bufferSize(_solver, rows, cols, out var lwork), "cusolverDnSgesvd_bufferSize");
        using var work = Scratch.Floats(this, Math.Max(lwork, 1));
        using var rwork = Scratch.Floats(this, Math.Max(cols - 1, 1));
        using var info = Scratch.Ints(this, 1);
        var jobu = (byte)(left != 0 ? 'S' : 'N');
        var jobvt = (byte)(rightT != 0 ? 'S' : 'N');
        Cusolver.Check(Cusolver.cusolverDnSgesvd(_solver, jobu, jobvt, rows, cols, a, rows, s,
            left, Math.Max(ldLeft, 1), rightT, Math.Max(ldRightT, 1), work.Ptr, lwork, rwork.Ptr, info.Ptr), "cusolverDnSgesvd");
        CheckInfo(info.Ptr, "cusolverDnSgesvd");
    }

    public void Potrf(int n, nint a)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (n == 0) return;
        RequirePointer(a, nameof(a));
        Enter();
        // Row-major lower L is the column-major upper factor U = L^T of the same (symmetric) buffer.
        Cusolver.Check(Cusolver.cusolverDnSpotrf_bufferSize(_solver, CublasFillMode.Upper, n, a, n, out var lwork), "cusolverDnSpotrf_bufferSize");
        using var work = Scratch.Floats(this, Math.Max(lwork, 1));
        using var info = Scratch.Ints(this, 1);
        Cusolver.Check(Cusolver.cusolverDnSpotrf(_solver, CublasFillMode.Upper, n, a, n, work.Ptr, lwork, info.Ptr), "cusolverDnSpotrf");
        CheckInfo(info.Ptr, "cusolverDnSpotrf");
        // Zero the row-major strict upper triangle (the column-major strict lower one) on the device: pack the factor's
        // column-major upper triangle, clear the matrix, unpack it (tpttr leaves the other triangle untouched).
        using var packed = Scratch.Floats(this, (long)n * (n + 1) / 2);
        Cublas.Check(Cublas.cublasStrttp(_blas, CublasFillMode.Upper, n, a, n, packed.Ptr), "cublasStrttp");
        Memset32(a, 0, (long)n * n);
        Cublas.Check(Cublas.cublasStpttr(_blas, CublasFillMode.Upper, n, packed.Ptr, a, n), "cublasStpttr");
    }

    public void Syevd(int n, nint a, nint w)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (n == 0) return;
        RequirePointer(a, nameof(a));
        RequirePointer(w, nameof(w));
        Enter();
        // Symmetric, so the buffer is the same matrix in either order; cuSOLVER leaves eigenvector i in column-major
        // column i = row-major row i, so one transpose makes them row-major columns.
        Cusolver.Check(Cusolver.cusolverDnSsyevd_bufferSize(_solver, CusolverEigMode.Vector, CublasFillMode.Lower, n, a, n, w, out var lwork),
            "cusolverDnSsyevd_bufferSize");
        using var work = Scratch.Floats(this, Math.Max(lwork, 1));
        using var info = Scratch.Ints(this, 1);
        Cusolver.Check(Cusolver.cusolverDnSsyevd(_solver, CusolverEigMode.Vector, CublasFillMode.Lower, n, a, n, w, work.Ptr, lwork, info.Ptr),
            "cusolverDnSsyevd");
        CheckInfo(info.Ptr, "cusolverDnSsyevd");
        using var t = Scratch.Floats(this, (long)n * n);
        Transpose(srcRows: n, srcCols: n, src: a, dst: t.Ptr);
        CopyDeviceToDevice(a, t.Ptr, (long)n * n * sizeof(float));
    }

    public void Dsyevd(int n, nint a, nint w)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (n == 0) return;
        RequirePointer(a, nameof(a));
        RequirePointer(w, nameof(w));
        Enter();
        // Column-major: eigenvector i is column i, i.e. row i of the row-major buffer, as the interface promises.
        Cusolver.Check(Cusolver.cusolverDnDsyevd_bufferSize(_solver, CusolverEigMode.Vector, CublasFillMode.Lower, n, a, n, w, out var lwork),
            "cusolverDnDsyevd_bufferSize");
        using var work = Scratch.Floats(this, 2L * Math.Max(lwork, 1));   // lwork counts doubles
        using var info = Scratch.Ints(this, 1);
        Cusolver.Check(Cusolver.cusolverDnDsyevd(_solver, CusolverEigMode.Vector, CublasFillMode.Lower, n, a, n, w, work.Ptr, lwork, info.Ptr),
            "cusolverDnDsyevd");
        CheckInfo(info.Ptr, "cusolverDnDsyevd");
    }

    /// <summary>Column-major dst (srcCols x srcRows, ld srcCols) = transpose of column-major src (srcRows x srcCols, ld srcRows), via cublasSgeam.</summary>
    private void Transpose(int srcRows, int srcCols, nint src, nint dst)
    {
        float one = 1f, zero = 0f;
        Cublas.Check(Cublas.cublasSgeam(_blas, CublasOperation.T, CublasOperation.T, srcCols, srcRows,
            &one, src, srcRows, &zero, src, srcRows, dst, srcCols), "cublasSgeam");
    }

    /// <summary>Reads a device info word (a stream-ordered copy, then a wait: the one host wait of each solver) and throws when it is not 0.</summary>
    private void CheckInfo(nint devInfo, string call)
    {
        int info;
        Check(Cuda.cuMemcpyDtoHAsync_v2(&info, devInfo, sizeof(int), _stream), "cuMemcpyDtoHAsync_v2", $"devInfo of {call}");
        Check(Cuda.cuStreamSynchronize(_stream), "cuStreamSynchronize", $"devInfo of {call}");
        Interlocked.Increment(ref _hostWaits);
        Lapacke.Check(info, call);
    }

    /// <summary>
    /// Device scratch rented from the runtime's pool and returned on dispose (a zero-length request holds a null pointer).
    /// Returning it while the solver that uses it is still queued is safe: the next renter's work goes to the same stream.
    /// </summary>
    private readonly struct Scratch : IDisposable
    {
        private readonly MemoryPool? _pool;
        private readonly long _sizeClass;
        public nint Ptr { get; }

        private Scratch(GpuRuntime owner, long bytes)
        {
            if (bytes <= 0) return;
            Ptr = owner.Pool.Rent(bytes, out _sizeClass);
            _pool = owner.Pool;
        }

        public static Scratch Floats(GpuRuntime owner, long count) => new(owner, count * sizeof(float));
        public static Scratch Ints(GpuRuntime owner, long count) => new(owner, count * sizeof(int));

        public void Dispose() => _pool?.Return(Ptr, _sizeClass);
    }
}
