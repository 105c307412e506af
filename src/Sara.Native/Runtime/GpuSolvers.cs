using Sara.Bindings;

namespace Sara.Native.Runtime;

// GpuRuntime's row-major GEMM and dense solvers over column-major cuBLAS/cuSOLVER.
// A row-major buffer of shape [r, c] is the column-major matrix of shape [c, r]: its transpose.
public sealed unsafe partial class GpuRuntime
{
    public void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, nint b, int ldb,
        float beta, nint c, int ldc)
    {
        CheckGemm(transA, transB, m, n, k, lda, ldb, ldc);
        if (m == 0 || n == 0) return;
        Enter();
        // Row-major C = op(A) op(B)  <=>  column-major C^T = op(B)^T op(A)^T, and the buffers already hold A^T and B^T.
        var opA = transA ? CublasOperation.T : CublasOperation.N;
        var opB = transB ? CublasOperation.T : CublasOperation.N;
        Cublas.Check(Cublas.cublasSgemm_v2(_blas, opB, opA, n, m, k, &alpha, b, ldb, a, lda, &beta, c, ldc), "cublasSgemm_v2");
    }

    public void GemmStridedBatched(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, long strideA,
        nint b, int ldb, long strideB, float beta, nint c, int ldc, long strideC, int batch)
    {
        CheckGemm(transA, transB, m, n, k, lda, ldb, ldc);
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        if (m == 0 || n == 0 || batch == 0) return;
        Enter();
        // As Gemm: row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T on the same buffers, item by item.
        var opA = transA ? CublasOperation.T : CublasOperation.N;
        var opB = transB ? CublasOperation.T : CublasOperation.N;
        Cublas.Check(Cublas.cublasSgemmStridedBatched(_blas, opB, opA, n, m, k, &alpha, b, ldb, strideB, a, lda, strideA, &beta, c, ldc, strideC, batch),
            "cublasSgemmStridedBatched");
    }

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
        Synchronize();
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
        ZeroStrictUpperRowMajor(n, a);
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
        Synchronize();
    }

    /// <summary>Column-major dst (srcCols x srcRows, ld srcCols) = transpose of column-major src (srcRows x srcCols, ld srcRows), via cublasSgeam.</summary>
    private void Transpose(int srcRows, int srcCols, nint src, nint dst)
    {
        float one = 1f, zero = 0f;
        Cublas.Check(Cublas.cublasSgeam(_blas, CublasOperation.T, CublasOperation.T, srcCols, srcRows,
            &one, src, srcRows, &zero, src, srcRows, dst, srcCols), "cublasSgeam");
    }

    /// <summary>Reads a device info word (the synchronous copy waits for the solver) and throws when it is not 0.</summary>
    private void CheckInfo(nint devInfo, string call)
    {
        int info;
        Cuda.Check(Cuda.cuMemcpyDtoH_v2(&info, devInfo, sizeof(int)), "cuMemcpyDtoH_v2", $"devInfo of {call}");
        Lapacke.Check(info, call);
    }

    /// <summary>Zeroes a[i, j] for j &gt; i of a row-major n x n matrix (a host round trip; the solver already synchronised).</summary>
    private void ZeroStrictUpperRowMajor(int n, nint a)
    {
        var host = GC.AllocateUninitializedArray<float>(checked(n * n));
        fixed (float* h = host)
        {
            var bytes = (nuint)((long)n * n * sizeof(float));
            Cuda.Check(Cuda.cuMemcpyDtoH_v2(h, a, bytes), "cuMemcpyDtoH_v2");
            for (var i = 0; i < n; i++) new Span<float>(h + (long)i * n + i + 1, n - i - 1).Clear();
            Cuda.Check(Cuda.cuMemcpyHtoD_v2(a, h, bytes), "cuMemcpyHtoD_v2");
        }
    }

    private static void CheckGemm(bool transA, bool transB, int m, int n, int k, int lda, int ldb, int ldc)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        RequireLeading(lda, transA ? m : k, nameof(lda), $"op(A) of shape [{m},{k}] with transA={transA}");
        RequireLeading(ldb, transB ? k : n, nameof(ldb), $"op(B) of shape [{k},{n}] with transB={transB}");
        RequireLeading(ldc, n, nameof(ldc), $"C of shape [{m},{n}]");
    }

    private static void RequireLeading(int ld, int cols, string name, string what)
    {
        if (ld < Math.Max(1, cols))
            throw new ArgumentOutOfRangeException(name, ld, $"{name} must be >= max(1, {cols}) for row-major {what}.");
    }

    /// <summary>Device scratch memory freed on dispose (a zero-length request holds a null pointer).</summary>
    private readonly struct Scratch : IDisposable
    {
        private readonly GpuRuntime _owner;
        public nint Ptr { get; }

        private Scratch(GpuRuntime owner, long bytes)
        {
            _owner = owner;
            Ptr = bytes > 0 ? owner.AllocRaw(bytes) : 0;
        }

        public static Scratch Floats(GpuRuntime owner, long count) => new(owner, count * sizeof(float));
        public static Scratch Ints(GpuRuntime owner, long count) => new(owner, count * sizeof(int));

        public void Dispose()
        {
            if (Ptr != 0) _owner.FreeRaw(Ptr);
        }
    }
}
