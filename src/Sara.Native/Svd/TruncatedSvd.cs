using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Native.Svd;

/// <summary>
/// Randomized truncated SVD (Halko–Martinsson–Tropp subspace iteration, DESIGN 1.4) built from backend ops:
/// GEMMs through BLAS, re-orthonormalisation by shifted CholeskyQR3 (Gram GEMM, <see cref="Backend.Cholesky"/>,
/// <see cref="Backend.TriangularInverse"/>, GEMM), and <see cref="Backend.SmallSvd"/> on the l x n projection.
/// </summary>
public static class TruncatedSvd
{
    /// <summary>First CholeskyQR pass's shift, relative to the Gram's largest diagonal: keeps any sketch factorisable.</summary>
    public const float FirstPassShift = 1e-4f;

    /// <summary>Leading options.Rank singular triplets of w (m x n, not modified).</summary>
    public static SvdResult Compute(Backend backend, Tensor w, SvdOptions options)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(options);
        Check.Matrix(backend, w, nameof(w), any16: true);
        options.Validate();
        int m = w.Rows, n = w.Cols, r = Math.Min(m, n), k = options.Rank;
        if (k > r) throw new ArgumentOutOfRangeException(nameof(options), $"Rank {k} exceeds min(m, n) = {r} of w {w.ShapeText}.");
        if (k > Backend.MaxSmallDimension)
            throw new ArgumentOutOfRangeException(nameof(options), $"Rank {k} exceeds the largest sketch, {Backend.MaxSmallDimension}.");
        var l = Math.Min(Math.Min(k + options.Oversampling, r), Backend.MaxSmallDimension);

        using var omega = backend.FromArray(SeededGaussian.Normal((long)n * l, 1.0, options.Seed), n, l);
        using var y = backend.Empty(m, l);
        using var q = backend.Empty(m, l);
        using var z = backend.Empty(n, l);
        using var zq = backend.Empty(n, l);
        using var scratch = new QrScratch(backend, l);

        // Inside the power iterations only the span matters: one shifted CholeskyQR pass keeps the basis well
        // conditioned (condition number at most about 1/sqrt(shift)). The basis Q that the result is built from gets
        // the full CholeskyQR3 and is orthonormal to float32 rounding.
        backend.Gemm(w, false, omega, false, y);
        for (var it = 0; it < options.PowerIterations; it++)
        {
            Pass(backend, y, q, scratch, FirstPassShift);
            backend.Gemm(w, true, q, false, z);
            Pass(backend, z, zq, scratch, FirstPassShift);
            backend.Gemm(w, false, zq, false, y);
        }
        Orthonormalize(backend, y, q, scratch);

        using var b = backend.Empty(l, n);
        using var sAll = backend.Empty(l);
        using var ub = backend.Empty(l, k);
        backend.Gemm(q, true, w, false, b);
        var vt = backend.Empty(k, n);
        var u = backend.Empty(m, k);
        try
        {
            backend.SmallSvd(b, sAll, ub, vt);
            backend.Gemm(q, false, ub, false, u);
            return new SvdResult(u, sAll.ToArray()[..k], vt, l);
        }
        catch
        {
            u.Dispose();
            vt.Dispose();
            throw;
        }
    }

    /// <summary>All min(m, n) singular values of w, descending, from the vendor solver (cuSOLVER / LAPACK).</summary>
    public static float[] ExactSingularValues(Backend backend, Tensor w)
    {
        ArgumentNullException.ThrowIfNull(backend);
        Check.Matrix(backend, w, nameof(w), any16: true);
        return backend.ExactSvdValues(w);
    }

    /// <summary>
    /// Shifted CholeskyQR3: result = x R^-1 with orthonormal columns spanning x's column space. The first pass adds
    /// <see cref="FirstPassShift"/> so an ill-conditioned x still factors; two plain passes then restore orthonormality.
    /// x is overwritten.
    /// </summary>
    internal static void Orthonormalize(Backend backend, Tensor x, Tensor result, QrScratch s)
    {
        Pass(backend, x, result, s, FirstPassShift);
        Pass(backend, result, x, s, 0f);
        Pass(backend, x, result, s, 0f);
    }

    private static void Pass(Backend backend, Tensor src, Tensor dst, QrScratch s, float shift)
    {
        backend.Gemm(src, true, src, false, s.Gram);
        backend.Cholesky(s.Gram, s.Factor, shift);
        backend.TriangularInverse(s.Factor, s.Inverse);
        backend.Gemm(src, false, s.Inverse, true, dst);
    }

    /// <summary>The l x l work matrices of one CholeskyQR pass.</summary>
    internal sealed class QrScratch(Backend backend, int l) : IDisposable
    {
        public Tensor Gram { get; } = backend.Empty(l, l);
        public Tensor Factor { get; } = backend.Empty(l, l);
        public Tensor Inverse { get; } = backend.Empty(l, l);

        public void Dispose()
        {
            Gram.Dispose();
            Factor.Dispose();
            Inverse.Dispose();
        }
    }
}
