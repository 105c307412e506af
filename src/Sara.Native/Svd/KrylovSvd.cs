using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Native.Svd;

/// <summary>
/// Randomized block Krylov SVD (Musco &amp; Musco 2015) of W (m x n), built from backend GEMMs. It works on the short side
/// X (d x D, d = min(m, n): X = W when m &lt;= n, else W^T) and keeps every basis as the rows of one tensor:
/// <code>
/// Q_0 = orth(G X^T)                       G: Gaussian b x D from the seed
/// Z_j = Q_j X   (b x D, row block j of Z)
/// Q_{j+1} = orth((I - P) Z_j X^T)         P: projector on Q_0..Q_j (block Gram–Schmidt, twice, and once more after
///                                         normalising, so rank-deficient W still gives an orthonormal basis)
/// Z = Q X  (L x D) = Ub diag(s) Vt        (Gram eigenproblem, or SmallSvd when ill-conditioned): s are the Ritz
///                                         values; X ~ (Ub^T Q)^T diag(s) Vt
/// </code>
/// Each block step costs two passes over W of width b; Z is filled by the passes the iteration makes anyway, so
/// the projection costs no extra pass. When the basis would span the whole short side (L &gt;= d) the basis is the
/// identity and the result is the dense SVD (exact to float32 rounding).
/// </summary>
public sealed class KrylovSvd : IDisposable
{
    private readonly Backend _backend;
    private readonly Tensor _leadingShort;   // c x d: leading singular vectors of the short side, as rows
    private readonly Tensor _leadingLong;    // c x D: the same for the long side

    private KrylovSvd(Backend backend, int rows, int cols, float[] values, bool dense, Tensor leadingShort, Tensor leadingLong)
    {
        _backend = backend;
        Rows = rows;
        Cols = cols;
        Values = values;
        IsDense = dense;
        _leadingShort = leadingShort;
        _leadingLong = leadingLong;
    }

    public int Rows { get; }
    public int Cols { get; }

    /// <summary>
    /// All Ritz values (L of them, or all min(m, n) when dense), descending. Those past the leading
    /// <see cref="VectorCount"/> come from the Gram matrix and are rough (float32 squares them): for a whole exact
    /// spectrum use <see cref="TruncatedSvd.ExactSingularValues"/>.
    /// </summary>
    public float[] Values { get; }

    /// <summary>How many leading singular vectors are kept (the most <see cref="Factors"/> can return).</summary>
    public int VectorCount => _leadingShort.Rows;

    /// <summary>The leading <see cref="VectorCount"/> singular vectors of the short side, as rows.</summary>
    public Tensor LeadingShortSide => _leadingShort;

    /// <summary>True when W is wide or square (the short side is the row space of W^T, i.e. the m side).</summary>
    public bool Wide => Rows <= Cols;

    /// <summary>True when the basis spans the whole short side, so <see cref="Values"/> is the whole spectrum.</summary>
    public bool IsDense { get; }

    /// <summary>
    /// The leading <paramref name="vectors"/> singular triplets of <paramref name="w"/> with a basis of
    /// <c>options.Width(vectors)</c> columns (dense when that reaches min(m, n)). Same seed, same backend: same bits.
    /// </summary>
    public static KrylovSvd Compute(Backend backend, Tensor w, int vectors, KrylovOptions options, int seed)
    {
        ArgumentNullException.ThrowIfNull(w);
        return ComputeBatch(backend, w, 1, vectors, options, [seed])[0];
    }

    /// <summary>
    /// The same for <paramref name="batch"/> matrices of one shape stacked in <paramref name="stacked"/> (batch m x n:
    /// matrix i is rows [i m, (i + 1) m)), each with its own seed: the passes over the matrices run as one strided
    /// batched GEMM per Krylov step (several small GEMMs fill a GPU that one does not), the orthonormalisations one
    /// matrix after the other. Matrix i's result has the bits <see cref="Compute"/> gives it where the batched GEMM
    /// computes each item as the single one does (the host backends; cuBLAS may pick another kernel for a batch).
    /// </summary>
    public static KrylovSvd[] ComputeBatch(Backend backend, Tensor stacked, int batch, int vectors, KrylovOptions options, IReadOnlyList<int> seeds)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(stacked);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(seeds);
        options.Validate();
        if (batch < 1 || stacked.Rank != 2 || stacked.Rows % batch != 0 || seeds.Count != batch)
            throw new ArgumentException($"stacked must hold {batch} matrices of equal height, with one seed each; got {stacked.ShapeText} and {seeds.Count} seeds.", nameof(stacked));
        int m = stacked.Rows / batch, n = stacked.Cols, d = Math.Min(m, n);
        if (d < 1) throw new ArgumentException($"w must be a non-empty m x n matrix; got {m}x{n}.", nameof(stacked));
        if (vectors < 1 || vectors > d) throw new ArgumentOutOfRangeException(nameof(vectors), $"vectors must be in [1, {d}]; got {vectors}.");
        var width = options.Width(vectors);
        if (width >= d)
            return Enumerable.Range(0, batch).Select(i => Dense(backend, new RowBlock(stacked, i * m, m), vectors)).ToArray();
        if (width > Backend.MaxSmallDimension)
            throw new ArgumentOutOfRangeException(nameof(vectors), $"The basis ({width} columns) exceeds the largest sketch, {Backend.MaxSmallDimension}.");
        return Krylov(backend, stacked, batch, vectors, options.BlockSize, width, seeds);
    }

    private static KrylovSvd[] Krylov(Backend backend, Tensor stacked, int batch, int vectors, int b, int width, IReadOnlyList<int> seeds)
    {
        int m = stacked.Rows / batch, n = stacked.Cols, d = Math.Min(m, n), D = Math.Max(m, n);
        var op = new ShortSide(backend, stacked, batch);
        using var basis = backend.Empty(batch * width, d);   // item i: rows [i width, (i + 1) width)
        using var z = backend.Empty(batch * width, D);
        using var y = backend.Empty(batch * b, d);
        using var coefficients = backend.Empty(width, b);
        using var qr = new TruncatedSvd.QrScratch(backend, b);
        using (var g = backend.Empty(batch * b, D))
        {
            for (var i = 0; i < batch; i++) backend.Upload(new RowBlock(g, i * b, b), SeededGaussian.Normal((long)b * D, 1.0, seeds[i]));
            op.TimesXt(new RowBlock(g, 0, b), b, new RowBlock(y, 0, b), b);
        }
        var blocks = width / b;
        for (var j = 0; ; j++)
        {
            for (var i = 0; i < batch; i++)
                Orthonormalize(backend, new RowBlock(y, i * b, b), new RowBlock(basis, i * width, j * b), new RowBlock(basis, i * width + j * b, b), coefficients, qr);
            op.Times(new RowBlock(basis, j * b, b), width, new RowBlock(z, j * b, b), width);
            if (j == blocks - 1) break;
            op.TimesXt(new RowBlock(z, j * b, b), width, new RowBlock(y, 0, b), b);
        }
        var results = new List<KrylovSvd>();
        try
        {
            for (var i = 0; i < batch; i++)
            {
                var zi = new RowBlock(z, i * width, width);
                var qi = new RowBlock(basis, i * width, width);
                var (values, leadingShort, leadingLong) = ProjectByGram(backend, zi, qi, vectors) ?? Project(backend, zi, qi, vectors);
                results.Add(new KrylovSvd(backend, m, n, values, false, leadingShort, leadingLong));
            }
            return results.ToArray();
        }
        catch
        {
            foreach (var r in results) r.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The basis spans the whole short side: the SVD of X itself, through the Gram matrix as the Krylov path
    /// (<see cref="ProjectByGram"/> with the identity as basis; its values beyond the well-conditioned leading ones are
    /// rough, which is why <see cref="RankPlanner"/> takes a dense layer's values from the vendor solver), or, when the
    /// leading values span too much, <see cref="Backend.SmallSvd"/> of X.
    /// </summary>
    private static KrylovSvd Dense(Backend backend, RowBlock w, int vectors)
    {
        int m = w.Count, n = w.Cols, d = Math.Min(m, n), D = Math.Max(m, n);
        if (d > Backend.MaxSmallDimension)
            throw new ArgumentOutOfRangeException(nameof(w), $"A dense SVD of {m}x{n} exceeds the largest sketch, {Backend.MaxSmallDimension}.");
        using var x = backend.Empty(d, D);
        using var identity = Identity(backend, d);
        if (m <= n) backend.Copy(w, x);
        else backend.Gemm(identity, false, w, true, x);   // X = W^T, exactly (products with 1 and 0)
        var (values, leadingShort, leadingLong) = ProjectByGram(backend, x, identity, vectors) ?? Project(backend, x, identity, vectors);
        return new KrylovSvd(backend, m, n, values, true, leadingShort, leadingLong);
    }

    /// <summary>
    /// x x^T = Y diag(lambda) Y^T (x: r x D) through SymmetricEigen: lambda descending, and the leading
    /// <paramref name="count"/> eigenvectors as the rows of a count x r array (host).
    /// </summary>
    private static (float[] Lambda, float[] Rows) GramEigen(Backend backend, RowBlock x, int count)
    {
        int r = x.Count;
        float[] lambda, eigen;
        using (var gram = backend.Empty(r, r))
        using (var w = backend.Empty(r))
        using (var v = backend.Empty(r, r))
        {
            backend.Gemm(x, false, x, true, gram);
            backend.SymmetricEigen(gram, w, v);
            lambda = w.ToArray();
            eigen = v.ToArray();
        }
        if (!lambda.All(float.IsFinite))
            throw new ArgumentException($"The weight's Gram matrix ({r} x {r}) overflowed float32 arithmetic: its values are too large or too small to factor.", nameof(x));
        Array.Reverse(lambda);
        var rows = new float[(long)count * r];
        for (var i = 0; i < count; i++)
            for (var c = 0; c < r; c++) rows[(long)i * r + c] = eigen[(long)c * r + (r - 1 - i)];
        return (lambda, rows);
    }

    /// <summary>
    /// SVD of z = Q X (L x D) by the dense solver: values, Ub^T Q (c x d) and Vt (c x D). The rows of Vt past z's
    /// numerical rank are rounding noise that the solver may leave far from orthogonal (the kernel runtime's Gram
    /// small SVD computes them as U^T z, normalised), so Vt is orthonormalised once more, rows in order: the leading
    /// rows move by their rounding only and the rest become an orthonormal completion.
    /// </summary>
    private static (float[] Values, Tensor Short, Tensor Long) Project(Backend backend, RowBlock z, RowBlock basis, int vectors)
    {
        int width = z.Count;
        using var copy = backend.Empty(width, z.Cols);
        backend.Copy(z, copy);
        using var s = backend.Empty(width);
        using var ub = backend.Empty(width, vectors);
        var leadingLong = backend.Empty(vectors, z.Cols);
        var leadingShort = backend.Empty(vectors, basis.Cols);
        try
        {
            backend.SmallSvd(copy, s, ub, leadingLong);
            backend.Gemm(ub, true, basis, false, leadingShort);
            var rows = new RowBlock(copy, 0, vectors);
            backend.Copy(leadingLong, rows);
            using (var qr = new TruncatedSvd.QrScratch(backend, vectors))   // nothing to project out: no coefficients needed
                Orthonormalize(backend, rows, new RowBlock(leadingLong, 0, 0), leadingLong, qr.Gram, qr);
            return (s.ToArray(), leadingShort, leadingLong);
        }
        catch
        {
            leadingLong.Dispose();
            leadingShort.Dispose();
            throw;
        }
    }

    /// <summary>Ratio s_1 / s_c above which <see cref="ProjectByGram"/> leaves the SVD of z to <see cref="Backend.SmallSvd"/>.</summary>
    public const float GramConditionLimit = 300f;

    /// <summary>
    /// The SVD of z = Q X (L x D) through its Gram matrix: z z^T = Ub diag(s^2) Ub^T (SymmetricEigen), then
    /// Vt = diag(1/s) Ub^T z. Two GEMMs and an L x L eigenproblem instead of a dense SVD of z, which on this CPU
    /// took 1.3 s at 448 x 4096 (3.8 s at 448 x 11008) against about 0.15 s this way. Forming z z^T squares the
    /// condition number: the relative error of s_i grows like eps (s_1 / s_i)^2, about 1e-2 at s_1 / s_i = 300 in
    /// float32, so null when the leading <paramref name="vectors"/> values span more than <see cref="GramConditionLimit"/>
    /// (then the caller takes the dense SVD).
    /// </summary>
    private static (float[] Values, Tensor Short, Tensor Long)? ProjectByGram(Backend backend, RowBlock z, RowBlock basis, int vectors)
    {
        int width = z.Count;
        var (lambda, ubt) = GramEigen(backend, z, vectors);
        var values = Array.ConvertAll(lambda, x => MathF.Sqrt(MathF.Max(x, 0f)));
        if (!(values[vectors - 1] * GramConditionLimit > values[0])) return null;
        // Rows of Ub^T are the eigenvectors, largest first; the scaled copy gives Vt = diag(1/s) Ub^T z.
        var scaled = new float[ubt.Length];
        for (var r = 0; r < vectors; r++)
            for (var c = 0; c < width; c++) scaled[(long)r * width + c] = ubt[(long)r * width + c] / values[r];
        var leadingShort = backend.Empty(vectors, basis.Cols);
        var leadingLong = backend.Empty(vectors, z.Cols);
        try
        {
            using var u = backend.FromArray(ubt, vectors, width);
            using var us = backend.FromArray(scaled, vectors, width);
            backend.Gemm(u, false, basis, false, leadingShort);
            backend.Gemm(us, false, z, false, leadingLong);
            return (values, leadingShort, leadingLong);
        }
        catch
        {
            leadingShort.Dispose();
            leadingLong.Dispose();
            throw;
        }
    }

    /// <summary>
    /// dst = an orthonormal basis (rows) of y's rows with the rows of <paramref name="done"/> projected out. y is
    /// overwritten. Block classical Gram–Schmidt twice, a shifted CholeskyQR pass, one more projection (a block that
    /// was nearly inside the span is mostly rounding noise, and normalising it amplifies its component along the span),
    /// then CholeskyQR2. <paramref name="reproject"/> false skips the third projection where blocks never come close to
    /// the span (the Lanczos blocks of the quadrature, whose residuals keep a sizeable norm).
    /// </summary>
    internal static void Orthonormalize(Backend backend, RowBlock y, RowBlock done, RowBlock dst, Tensor coefficients, TruncatedSvd.QrScratch qr,
        bool reproject = true)
    {
        Project(backend, y, done, coefficients);
        Project(backend, y, done, coefficients);
        CholeskyPass(backend, y, dst, qr, TruncatedSvd.FirstPassShift);
        backend.Copy(dst, y);
        if (reproject) Project(backend, y, done, coefficients);
        CholeskyPass(backend, y, dst, qr, 0f);
        backend.Copy(dst, y);
        CholeskyPass(backend, y, dst, qr, 0f);
    }

    /// <summary>y -= (y Q^T) Q for the orthonormal rows Q of <paramref name="done"/>.</summary>
    internal static void Project(Backend backend, RowBlock y, RowBlock done, Tensor coefficients)
    {
        if (done.Count == 0) return;
        var c = new RowBlock(coefficients, 0, done.Count);   // Q y^T: done.Count x y.Count
        backend.Gemm(done, false, y, true, c);
        backend.Gemm(c, true, done, false, y, -1f, 1f);
    }

    /// <summary>dst = L^-1 src with L L^T = src src^T (+ shift): orthonormal rows spanning src's rows.</summary>
    internal static void CholeskyPass(Backend backend, RowBlock src, RowBlock dst, TruncatedSvd.QrScratch qr, float shift)
    {
        backend.Gemm(src, false, src, true, qr.Gram);
        backend.Cholesky(qr.Gram, qr.Factor, shift);
        backend.TriangularInverse(qr.Factor, qr.Inverse);
        backend.Gemm(qr.Inverse, false, src, false, dst);
    }

    internal static Tensor Identity(Backend backend, int size)
    {
        var data = new float[(long)size * size];
        for (var i = 0; i < size; i++) data[(long)i * size + i] = 1f;
        return backend.FromArray(data, size, size);
    }

    /// <summary>
    /// A = U_k (m x k) and B = V_k^T (k x n) for k &lt;= <see cref="VectorCount"/>: new tensors the caller disposes.
    /// </summary>
    public (Tensor A, Tensor B) Factors(int k)
    {
        if (k < 1 || k > VectorCount) throw new ArgumentOutOfRangeException(nameof(k), $"k must be in [1, {VectorCount}]; got {k}.");
        // Wide: U rows = the short side (m), V^T rows = the long side (n). Tall: the other way round.
        var (uRows, vtRows) = Wide ? (_leadingShort, _leadingLong) : (_leadingLong, _leadingShort);
        var a = _backend.Empty(Rows, k);
        var b = _backend.Empty(k, Cols);
        try
        {
            using var identity = Identity(_backend, k);
            _backend.Gemm(new RowBlock(uRows, 0, k), true, identity, false, a);   // transpose, exactly
            _backend.Copy(new RowBlock(vtRows, 0, k), b);
            return (a, b);
        }
        catch
        {
            a.Dispose();
            b.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _leadingShort.Dispose();
        _leadingLong.Dispose();
    }

    /// <summary>
    /// Products with X (d x D, the short side of W) and X^T on row blocks, as GEMMs with W; for a stack of matrices
    /// (rows [i m, (i + 1) m) of the tensor) one strided batched GEMM over all of them, operand blocks repeating every
    /// <c>stride</c> rows.
    /// </summary>
    internal readonly struct ShortSide(Backend backend, Tensor stacked, int batch = 1)
    {
        private readonly int _m = stacked.Rows / batch;
        private readonly bool _wide = stacked.Rows / batch <= stacked.Cols;

        private RowBlock W => new(stacked, 0, _m);

        /// <summary>dst_i (r x D) = src_i (r x d) X_i.</summary>
        public void Times(RowBlock src, int srcStride, RowBlock dst, int dstStride) =>
            backend.GemmBatched(batch, src, srcStride, false, W, _m, !_wide, dst, dstStride);

        /// <summary>dst_i (r x d) = src_i (r x D) X_i^T.</summary>
        public void TimesXt(RowBlock src, int srcStride, RowBlock dst, int dstStride) =>
            backend.GemmBatched(batch, src, srcStride, false, W, _m, _wide, dst, dstStride);
    }
}
