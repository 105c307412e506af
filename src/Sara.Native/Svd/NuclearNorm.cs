using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Native.Svd;

/// <summary>
/// An estimate of the nuclear norm sum_i s_i = tr((X X^T)^(1/2)): the L Ritz values of the Krylov basis (exact
/// leading part) plus the estimated trace over the basis's complement (<see cref="Remainder"/>, dimension
/// <see cref="ComplementDimension"/>). <see cref="StandardError"/> is the spread over the probes; QuadratureChange is how
/// much the remainder moved when the last Lanczos block was added (how far the quadrature is from converged).
/// </summary>
public sealed record TotalEstimate(double Leading, int LeadingCount, double Remainder, int ComplementDimension,
    double StandardError, double QuadratureChange, int Probes, int Steps)
{
    public double Value => Leading + Remainder;

    /// <summary>(2 StandardError + |QuadratureChange|) / Value: a bound on the relative error at about 95 % confidence.</summary>
    public double RelativeBound => Value > 0 ? (2 * StandardError + Math.Abs(QuadratureChange)) / Value : 0;
}

/// <summary>
/// Block Lanczos quadrature (stochastic Lanczos quadrature with a block of probes, DESIGN 3.2) of tr((X X^T)^(1/2)) on
/// the complement of the leading singular vectors Q (as rows, from the truncated SVD): the operator is A = P X X^T P
/// with P = I - Q^T Q, on the short side.
/// <code>
/// V_0 = orth(P G)                          G: Gaussian p x d from the seed; p probes
/// U = P (V_j X) X^T                         two GEMM passes over W of width p
/// T[j, j] = V_j U^T;  V_{j+1} = orth(U without its components along Q, V_0..V_j);  T[j+1, j] = V_{j+1} U^T
/// T = Y diag(theta) Y^T (SymmetricEigen);  per probe c: e_c = sum_i sqrt(theta_i) Y[c, i]^2   (Gauss quadrature)
/// remainder = N mean_c(e_c),  standard error = N std_c(e_c) / sqrt(p),  N = d - L
/// </code>
/// Each row of V_0 is a uniformly random unit vector of the complement, so N e_c estimates its trace; the rows of one
/// orthonormal block are nearly independent when N is much larger than p, which the standard error assumes.
/// </summary>
public static class NuclearNorm
{
    /// <summary>
    /// The estimate of sum_i s_i(w) from its Krylov SVD (not dense): the leading <see cref="KrylovSvd.VectorCount"/> Ritz
    /// values plus the quadrature on the complement of their singular vectors, with <paramref name="probes"/> probes and
    /// <paramref name="steps"/> Lanczos blocks. (Deflating the whole Krylov basis instead doubled the bias measured on
    /// flat spectra: its last, unconverged directions mix the head and the bulk, and sqrt is concave.)
    /// </summary>
    public static TotalEstimate Estimate(Backend backend, Tensor w, KrylovSvd svd, int probes, int steps, int seed)
    {
        ArgumentNullException.ThrowIfNull(w);
        return EstimateBatch(backend, w, [svd], probes, steps, [seed])[0];
    }

    /// <summary>
    /// The estimates for <paramref name="svds"/>.Count matrices of one shape stacked in <paramref name="stacked"/> (as
    /// <see cref="KrylovSvd.ComputeBatch"/>), the passes over the matrices as one strided batched GEMM per Lanczos step.
    /// <paramref name="scale"/> multiplies the remainder and its errors: the matrices are the weights divided by it
    /// (the SVDs' values already scaled back).
    /// </summary>
    public static TotalEstimate[] EstimateBatch(Backend backend, Tensor stacked, IReadOnlyList<KrylovSvd> svds, int probes, int steps,
        IReadOnlyList<int> seeds, double scale = 1)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(stacked);
        ArgumentNullException.ThrowIfNull(svds);
        ArgumentNullException.ThrowIfNull(seeds);
        var batch = svds.Count;
        if (batch < 1 || seeds.Count != batch || stacked.Rows % batch != 0)
            throw new ArgumentException($"stacked must hold one matrix per SVD, with one seed each; got {stacked.ShapeText}, {batch} SVDs, {seeds.Count} seeds.", nameof(svds));
        foreach (var svd in svds)
        {
            ArgumentNullException.ThrowIfNull(svd, nameof(svds));
            if (svd.IsDense) throw new ArgumentException("The SVD is dense: its values are the whole spectrum.", nameof(svds));
            if (svd.Rows != stacked.Rows / batch || svd.Cols != stacked.Cols)
                throw new ArgumentException($"The SVD of a {svd.Rows}x{svd.Cols} matrix does not belong to {stacked.ShapeText} / {batch}.", nameof(svds));
        }
        int width = svds[0].VectorCount, d = Math.Min(svds[0].Rows, svds[0].Cols), complement = d - width;
        if (probes < 2) throw new ArgumentOutOfRangeException(nameof(probes), $"probes must be >= 2; got {probes}.");
        if (steps < 2) throw new ArgumentOutOfRangeException(nameof(steps), $"steps must be >= 2; got {steps}.");
        if (svds.Any(x => x.VectorCount != width)) throw new ArgumentException("The SVDs must keep the same number of vectors.", nameof(svds));
        if (width + probes * steps > d)
            throw new ArgumentException($"The complement ({complement} dimensions) is too small for {steps} blocks of {probes} probes.", nameof(steps));
        int size = probes * steps, rows = width + size, D = Math.Max(svds[0].Rows, svds[0].Cols);
        var op = new KrylovSvd.ShortSide(backend, stacked, batch);
        var t = Enumerable.Range(0, batch).Select(_ => new double[size, size]).ToArray();

        // Per matrix i, rows [i rows, i rows + width) hold its leading singular vectors and rows
        // [i rows + width + j p, + p) its Lanczos block j, so one projection removes both.
        using var vectors = backend.Empty(batch * rows, d);
        using var y = backend.Empty(probes, d);
        using var u = backend.Empty(batch * probes, d);
        using var xv = backend.Empty(batch * probes, D);
        using var block = backend.Empty(probes, probes);
        using var coefficients = backend.Empty(rows, probes);
        using var qr = new TruncatedSvd.QrScratch(backend, probes);
        for (var i = 0; i < batch; i++)
        {
            backend.Copy(svds[i].LeadingShortSide, new RowBlock(vectors, i * rows, width));
            backend.Upload(y, SeededGaussian.Normal((long)probes * d, 1.0, seeds[i]));
            KrylovSvd.Orthonormalize(backend, y, new RowBlock(vectors, i * rows, width), new RowBlock(vectors, i * rows + width, probes), coefficients, qr);
        }
        for (var j = 0; j < steps; j++)
        {
            op.Times(new RowBlock(vectors, width + j * probes, probes), rows, new RowBlock(xv, 0, probes), probes);
            op.TimesXt(new RowBlock(xv, 0, probes), probes, new RowBlock(u, 0, probes), probes);
            for (var i = 0; i < batch; i++)
            {
                var ui = new RowBlock(u, i * probes, probes);
                var vj = new RowBlock(vectors, i * rows + width + j * probes, probes);
                KrylovSvd.Project(backend, ui, new RowBlock(vectors, i * rows, width), coefficients);   // U = P A V_j
                backend.Gemm(vj, false, ui, true, block);
                Store(t[i], block.ToArray(), probes, j, j);
                if (j == steps - 1) continue;
                backend.Copy(ui, y);
                var next = new RowBlock(vectors, i * rows + width + (j + 1) * probes, probes);
                KrylovSvd.Orthonormalize(backend, y, new RowBlock(vectors, i * rows, width + (j + 1) * probes), next, coefficients, qr, reproject: false);
                backend.Gemm(next, false, ui, true, block);
                Store(t[i], block.ToArray(), probes, j + 1, j);
            }
        }

        var estimates = new TotalEstimate[batch];
        for (var i = 0; i < batch; i++)
        {
            var perProbe = Quadrature(backend, t[i], size, probes);
            var previous = Quadrature(backend, t[i], size - probes, probes);
            double mean = perProbe.Average(), variance = perProbe.Sum(e => (e - mean) * (e - mean)) / (probes - 1);
            var remainder = scale * complement * mean;
            var leading = svds[i].Values[..width].Sum(v => (double)v);
            estimates[i] = new TotalEstimate(leading, width, remainder, complement, scale * complement * Math.Sqrt(variance / probes),
                remainder - scale * complement * previous.Average(), probes, steps);
        }
        return estimates;
    }

    /// <summary>T[i, j] block (and its transpose when off the diagonal); diagonal blocks are symmetrised.</summary>
    private static void Store(double[,] t, float[] block, int p, int bi, int bj)
    {
        for (var r = 0; r < p; r++)
            for (var c = 0; c < p; c++)
            {
                double v = block[r * p + c];
                if (bi == bj) v = 0.5 * (v + block[c * p + r]);
                t[bi * p + r, bj * p + c] = v;
                t[bj * p + c, bi * p + r] = v;
            }
    }

    /// <summary>e_c = sum_i sqrt(max(theta_i, 0)) Y[c, i]^2 for the leading size x size part of T, c &lt; probes.</summary>
    private static double[] Quadrature(Backend backend, double[,] t, int size, int probes)
    {
        var flat = new float[size * size];
        for (var i = 0; i < size; i++)
            for (var j = 0; j < size; j++) flat[i * size + j] = (float)t[i, j];
        using var a = backend.FromArray(flat, size, size);
        using var values = backend.Empty(size);
        using var vectors = backend.Empty(size, size);
        backend.SymmetricEigen(a, values, vectors);
        var theta = values.ToArray();
        var y = vectors.ToArray();
        var e = new double[probes];
        for (var c = 0; c < probes; c++)
            for (var i = 0; i < size; i++)
            {
                double yc = y[c * size + i];
                e[c] += Math.Sqrt(Math.Max(theta[i], 0.0)) * yc * yc;
            }
        return e;
    }
}
