using System.Runtime.InteropServices;
using Sara.Native.Runtime;
using Sara.Native.Tensors;

namespace Sara.Native.Backends;

// The truncated SVD's non-GEMM pieces on a kernel runtime: kernels/svd.cu, plus the vendor solver for the exact path.
public sealed partial class CudaBackend
{
    /// <summary>Upper bound on one-sided Jacobi sweeps; a float32 sketch converges in about 6 to 12.</summary>
    public const int MaxJacobiSweeps = 40;

    /// <summary>Sweeps the last <see cref="SmallSvd"/> took (for reports and tests).</summary>
    public int LastJacobiSweeps { get; private set; }

    private void LaunchWith(string kernel, Dim3 grid, uint threads, ReadOnlySpan<KernelArg> args)
        => Runtime.Launch(kernel, grid, threads, 0, args);

    protected override SquaredNorm SumOfSquaresCore(nint x, long length)
    {
        var blocks = GridFor(length);
        using var partials = Empty(4 * (int)blocks);   // 2 doubles per block in float-sized storage
        using var total = Empty(4);                     // 2 doubles
        LaunchWith("sara_svd_sum_squares", blocks, 256, [x, length, partials.Ptr]);
        LaunchWith("sara_svd_sum_squares_finish", 1, 256, [partials.Ptr, (int)blocks, total.Ptr]);
        Span<double> host = stackalloc double[2];
        Runtime.CopyToHost(MemoryMarshal.AsBytes(host), total.Ptr);
        return new SquaredNorm(host[0], (long)host[1]);
    }

    protected override void CholeskyCore(Tensor a, Tensor l, float relativeShift)
        => LaunchWith("sara_svd_cholesky", 1, 256, [a.Ptr, l.Ptr, a.Rows, relativeShift]);

    protected override void TriangularInverseCore(Tensor l, Tensor inverse)
        => LaunchWith("sara_svd_tri_inverse", CeilDiv(l.Rows, 128), 128, [l.Ptr, inverse.Ptr, l.Rows]);

    protected override void SmallSvdCore(Tensor b, Tensor s, Tensor u, Tensor vt)
    {
        int l = b.Rows, n = b.Cols, slots = l + (l & 1);
        using var work = Empty(l, n);
        using var p = Empty(l, l);
        using var norms = Empty(l);
        using var rotations = Empty(1);   // one int32 counter
        CopyCore(b, work);
        LaunchWith("sara_svd_identity", GridFor((long)l * l), 256, [p.Ptr, l]);
        // Rows count as orthogonal when |b_i.b_j| <= tol |b_i||b_j|: a few float32 roundings of an n-term dot product.
        var tol = MathF.Max(1e-6f, 4f * 1.2e-7f * MathF.Sqrt(n));
        Span<int> count = stackalloc int[1];
        var sweeps = 0;
        while (l > 1 && sweeps < MaxJacobiSweeps)
        {
            sweeps++;
            Runtime.Memset32(rotations.Ptr, 0, 1);
            for (var step = 0; step < slots - 1; step++)
                LaunchWith("sara_svd_jacobi_step", (uint)(slots / 2), 128,
                    [work.Ptr, p.Ptr, l, n, slots, step, tol, rotations.Ptr]);
            Runtime.CopyToHost(MemoryMarshal.AsBytes(count), rotations.Ptr);
            if (count[0] == 0) break;
        }
        LastJacobiSweeps = sweeps;
        LaunchWith("sara_svd_row_norms", (uint)l, 128, [work.Ptr, norms.Ptr, n]);
        LaunchWith("sara_svd_finish", (uint)l, 128, [work.Ptr, p.Ptr, norms.Ptr, s.Ptr, u.Ptr, vt.Ptr, l, n, u.Cols]);
    }

    protected override void GemmBlocksCore(nint a, int lda, bool transA, nint b, int ldb, bool transB, nint c, int ldc,
        int m, int n, int k, float alpha, float beta)
        => Runtime.Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    protected override void SymmetricEigenCore(Tensor a, Tensor values) => Runtime.Syevd(a.Rows, a.Ptr, values.Ptr);

    protected override void GemmBatchedCore(int batch, nint a, int lda, long strideA, bool transA, nint b, int ldb, long strideB, bool transB,
        nint c, int ldc, long strideC, int m, int n, int k, float alpha, float beta)
        => Runtime.GemmStridedBatched(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch);

    protected override void UploadBlockCore(nint dst, ReadOnlySpan<float> src) => Runtime.CopyToDevice(dst, MemoryMarshal.AsBytes(src));

    protected override void CopyBlockCore(nint dst, nint src, long bytes) => Runtime.CopyDeviceToDevice(dst, src, bytes);

    protected override float[] ExactSvdValuesCore(Tensor w)
    {
        int m = w.Rows, n = w.Cols;
        using var copy = Empty(m, n);
        using var s = Empty(Math.Min(m, n));
        CopyCore(w, copy);
        Runtime.Gesvd(m, n, copy.Ptr, s.Ptr, 0, 0);
        return s.ToArray();
    }
}
