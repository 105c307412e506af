using System.Buffers;
using System.Runtime.Intrinsics;
using Sara.Native.Runtime;
using Sara.Native.Tensors;

namespace Sara.Native.Backends;

// The truncated SVD's non-GEMM pieces in C# (Cholesky, triangular inverse, reductions) and LAPACKE (dense SVDs).
public sealed unsafe partial class CpuBackend
{
    protected override SquaredNorm SumOfSquaresCore(nint x, long length)
    {
        var total = new SquareSum();
        total.Add(new ReadOnlySpan<float>((void*)x, checked((int)length)));
        return total.Result;
    }

    protected override SquaredNorm SumOfSquares16Core(DType type, nint x, long length)
    {
        var total = new SquareSum();
        var bits = new ReadOnlySpan<ushort>((void*)x, checked((int)length));
        var row = ArrayPool<float>.Shared.Rent((int)Math.Min(length, SquareSum.Chunk));
        try
        {
            for (var i = 0; i < bits.Length; i += row.Length)
            {
                var part = row.AsSpan(0, Math.Min(row.Length, bits.Length - i));
                Precision.Widen(type, bits.Slice(i, part.Length), part);
                total.Add(part);
            }
        }
        finally { ArrayPool<float>.Shared.Return(row); }
        return total.Result;
    }

    // Four float64 lanes per half of a 256-bit vector, summed in a fixed order (deterministic); a chunk with any NaN or
    // Inf is redone element by element to count them.
    private sealed class SquareSum
    {
        public const int Chunk = 4096;
        private double sum;
        private long bad;
        private Vector256<double> lanes;

        public SquaredNorm Result => new(sum + Vector256.Sum(lanes), bad);

        public void Add(ReadOnlySpan<float> xs)
        {
            for (var start = 0; start < xs.Length; start += Chunk)
            {
                var part = xs.Slice(start, Math.Min(Chunk, xs.Length - start));
                var i = 0;
                var acc = Vector256<double>.Zero;
                var finite = true;
                if (Vector256.IsHardwareAccelerated)
                    for (; i + Vector256<float>.Count <= part.Length; i += Vector256<float>.Count)
                    {
                        var v = Vector256.Create(part.Slice(i, Vector256<float>.Count));
                        if (!Vector256.EqualsAll(v - v, Vector256<float>.Zero)) { finite = false; break; }
                        var (lo, hi) = Vector256.Widen(v);
                        acc += lo * lo + hi * hi;
                    }
                if (!finite)
                {
                    i = 0;
                    acc = Vector256<double>.Zero;
                }
                lanes += acc;
                for (; i < part.Length; i++)
                {
                    var v = part[i];
                    if (float.IsFinite(v)) sum += (double)v * v;
                    else bad++;
                }
            }
        }
    }

    // Same algorithm and guard as sara_svd_cholesky (left-looking; a pivot not above 1e-7 * max diagonal gets sqrt(guard)
    // and a zero sub-column), with float64 sums.
    protected override void CholeskyCore(Tensor a, Tensor l, float relativeShift)
    {
        int n = a.Rows;
        Span<float> A = S(a), L = S(l);
        float maxDiag = 0f;
        for (var i = 0; i < n; i++) maxDiag = MathF.Max(maxDiag, A[i * n + i]);
        double shift = (double)relativeShift * maxDiag, guard = Math.Max(1e-7 * maxDiag, 1e-30);
        L.Clear();
        for (var j = 0; j < n; j++)
        {
            var lj = L.Slice(j * n, j);
            double d = A[j * n + j] + shift;
            foreach (var v in lj) d -= (double)v * v;
            var dead = !(d > guard);   // numerically dependent column: pivot sqrt(guard), zero sub-column
            var pivot = Math.Sqrt(dead ? guard : d);
            L[j * n + j] = (float)pivot;
            if (dead) continue;
            for (var i = j + 1; i < n; i++)
            {
                var li = L.Slice(i * n, j);
                double dot = 0;
                for (var p = 0; p < j; p++) dot += (double)li[p] * lj[p];
                L[i * n + j] = (float)((A[i * n + j] - dot) / pivot);
            }
        }
    }

    protected override void TriangularInverseCore(Tensor l, Tensor inverse)
    {
        int n = l.Rows;
        Span<float> L = S(l), X = S(inverse);
        X.Clear();
        var col = new double[n];
        for (var c = 0; c < n; c++)
        {
            col[c] = 1.0 / L[c * n + c];
            for (var i = c + 1; i < n; i++)
            {
                double dot = 0;
                for (var p = c; p < i; p++) dot += L[i * n + p] * col[p];
                col[i] = -dot / L[i * n + i];
            }
            for (var i = c; i < n; i++) X[i * n + c] = (float)col[i];
        }
    }

    protected override void SmallSvdCore(Tensor b, Tensor s, Tensor u, Tensor vt)
    {
        int l = b.Rows, n = b.Cols, c = u.Cols;
        using var work = Empty(l, n);
        using var uFull = Empty(l, l);
        using var vtFull = Empty(l, n);
        CopyCore(b, work);
        HostLapack.Gesvd(l, n, work.Ptr, s.Ptr, uFull.Ptr, vtFull.Ptr);
        Span<float> U = S(u), Uf = S(uFull);
        for (var r = 0; r < l; r++) Uf.Slice(r * l, c).CopyTo(U.Slice(r * c, c));
        S(vtFull)[..(c * n)].CopyTo(S(vt));
    }

    protected override void GemmBlocksCore(nint a, int lda, bool transA, nint b, int ldb, bool transB, nint c, int ldc,
        int m, int n, int k, float alpha, float beta)
        => HostBlas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    protected override void SymmetricEigenCore(Tensor a, Tensor values) => HostLapack.Syevd(a.Rows, a.Ptr, values.Ptr);

    protected override void GemmBatchedCore(int batch, nint a, int lda, long strideA, bool transA, nint b, int ldb, long strideB, bool transB,
        nint c, int ldc, long strideC, int m, int n, int k, float alpha, float beta)
        => HostBlas.SgemmStridedBatched(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch);

    protected override void GemmMixedCore(bool transA, bool transB, int m, int n, int k, float alpha, GemmOperand a, GemmOperand b,
        float beta, GemmOperand c)
        => MixedGemm.Run(new HostGemmPanels(Pool, rankKernels: true), transA, transB, m, n, k, alpha, a, b, beta, c);

    protected override void WidenBlockCore(DType type, nint src, nint dst, int rows, int cols)
    {
        var count = checked(rows * cols);
        Precision.Widen(type, new ReadOnlySpan<ushort>((void*)src, count), new Span<float>((void*)dst, count));
    }

    protected override void UploadBlockCore(nint dst, ReadOnlySpan<float> src) => src.CopyTo(new Span<float>((void*)dst, src.Length));

    protected override void CopyBlockCore(nint dst, nint src, long bytes) => Buffer.MemoryCopy((void*)src, (void*)dst, bytes, bytes);

    protected override float[] ExactSvdValuesCore(Tensor w)
    {
        using var copy = Empty(w.Rows, w.Cols);
        Convert(w, copy);   // LAPACK's float32 working copy (widened exactly from a 16-bit w)
        var s = new float[Math.Min(w.Rows, w.Cols)];
        fixed (float* ps = s) HostLapack.Gesvd(w.Rows, w.Cols, copy.Ptr, (nint)ps, 0, 0);
        return s;
    }
}
