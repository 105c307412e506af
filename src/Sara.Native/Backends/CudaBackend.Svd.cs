using System.Runtime.InteropServices;
using Sara.Native.Runtime;
using Sara.Native.Tensors;

namespace Sara.Native.Backends;

// The truncated SVD's non-GEMM pieces on a kernel runtime: kernels/svd.cu, plus the vendor solver for the exact path.
public sealed partial class CudaBackend
{
    protected override SquaredNorm SumOfSquaresCore(nint x, long length)
    {
        var blocks = GridFor(length);
        using var partials = Empty(4 * (int)blocks);   // 2 doubles per block in float-sized storage
        using var total = Empty(4);                     // 2 doubles
        Kernels.SaraSvdSumSquares(Runtime, blocks, 256, 0, KernelPtr.Raw(x), length, partials);
        Kernels.SaraSvdSumSquaresFinish(Runtime, 1, 256, 0, partials, (int)blocks, total);
        Span<double> host = stackalloc double[2];
        Runtime.CopyToHost(MemoryMarshal.AsBytes(host), total.Ptr);
        return new SquaredNorm(host[0], (long)host[1]);
    }

    protected override void CholeskyCore(Tensor a, Tensor l, float relativeShift)
        => Kernels.SaraSvdCholesky(Runtime, 1, 256, 0, a, l, a.Rows, relativeShift);

    protected override void TriangularInverseCore(Tensor l, Tensor inverse)
        => Kernels.SaraSvdTriInverse(Runtime, CeilDiv(l.Rows, 128), 128, 0, l, inverse, l.Rows);

    /// <summary>
    /// b = U diag(s) Vt from the float64 Gram matrix: G = b b^T (kernel, float64), G = V diag(w) V^T (Dsyevd: cuSOLVER or
    /// LAPACK), s = sqrt(w) and U = V in descending order (kernel), Vt = U^T b (GEMM) with unit rows (kernel). Three
    /// launches and two library calls for any l; kernels/svd.cu says why the Gram keeps the small values accurate.
    /// </summary>
    protected override void SmallSvdCore(Tensor b, Tensor s, Tensor u, Tensor vt)
    {
        int l = b.Rows, n = b.Cols, c = u.Cols;
        using var gram = Empty(2 * l, l);   // l x l doubles in float-sized storage
        using var w = Empty(2 * l);          // l doubles
        var tiles = CeilDiv(l, 32);
        Kernels.SaraSvdGram(Runtime, new Dim3(tiles, tiles), 256, 0, b, gram, l, n);
        Runtime.Dsyevd(l, gram.Ptr, w.Ptr);
        Kernels.SaraSvdGramFinish(Runtime, (uint)l, 128, 0, gram, w, s, u, l, c);
        GemmCore(u, true, b, false, vt, 1f, 0f);
        Kernels.SaraSvdNormalizeRows(Runtime, (uint)c, 128, 0, vt, n);
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
        Convert(w, copy);   // cuSOLVER's float32 working copy (widened exactly from a 16-bit w)
        Runtime.Gesvd(m, n, copy.Ptr, s.Ptr, 0, 0);
        return s.ToArray();
    }
}
