using System.Diagnostics;
using Sara.Native.Backends;
using Sara.Native.IO;
using Sara.Native.Tensors;

namespace Sara.Native.Svd;

/// <summary>Chooses each layer's adapter rank from its singular values (DESIGN 1.1).</summary>
public static class RankPlanner
{
    /// <summary>Relative slack when comparing a cumulative sum with tau * total, so that exact ties count as reached.</summary>
    public const double TieTolerance = 1e-12;

    /// <summary>
    /// The rank of one weight w (m x n) on <paramref name="backend"/> (<see cref="Factorize"/> without keeping the factors).
    /// NaN or Inf in w is an ArgumentException naming the layer.
    /// </summary>
    public static LayerRank ForMatrix(Backend backend, string layer, Tensor w, RankOptions options)
        => ForMatrix(backend, layer, w, options, out _);

    /// <summary>As above; <paramref name="singularValues"/> gets the values the rank was read from (all, or the leading ones).</summary>
    public static LayerRank ForMatrix(Backend backend, string layer, Tensor w, RankOptions options, out float[] singularValues)
    {
        using var f = Factorize(backend, layer, w, options);
        singularValues = f.SingularValues;
        return f.Rank;
    }

    /// <summary>
    /// One truncated SVD of w (m x n) gives both the rank and the SARA factors (DESIGN 1.1, 1.2): a block Krylov SVD
    /// (<see cref="KrylovSvd"/>) of the leading min(KMax, m, n) triplets, then k from the criterion's total:
    /// ||W||_F^2 for EnergyFraction; for SumFraction all singular values from the vendor solver
    /// (<see cref="RankOptions.UsesExactSpectrum"/>) or the Ritz values plus the block Lanczos quadrature of the rest
    /// (<see cref="NuclearNorm"/>, recorded in <see cref="LayerRank.Estimate"/>). The sketches are seeded by
    /// <see cref="RankOptions.Seed"/> and the layer's name, so a layer gets the same bits whatever else is computed.
    /// NaN or Inf in w is an ArgumentException naming the layer.
    /// </summary>
    public static LayerFactors Factorize(Backend backend, string layer, Tensor w, RankOptions options)
    {
        ArgumentNullException.ThrowIfNull(w);
        return FactorizeBatch(backend, [layer], w, options)[0];
    }

    /// <summary>
    /// <see cref="Factorize"/> for several layers of one shape stacked in <paramref name="stacked"/> (layers.Count m x n:
    /// layer i is rows [i m, (i + 1) m)), their SVDs and estimates run as one batched GEMM per step
    /// (<see cref="KrylovSvd.ComputeBatch"/>): what a GPU needs to be busy with q/k/v/o-sized matrices. Each layer is
    /// seeded by its own name, so on the host backends its result has the bits <see cref="Factorize"/> gives it.
    /// </summary>
    public static LayerFactors[] FactorizeBatch(Backend backend, IReadOnlyList<string> layers, Tensor stacked, RankOptions options)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(stacked);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var batch = layers.Count;
        foreach (var layer in layers) ArgumentException.ThrowIfNullOrWhiteSpace(layer, nameof(layers));
        if (batch < 1 || stacked.Rank != 2 || stacked.Rows < batch || stacked.Rows % batch != 0 || stacked.Cols < 1)
            throw new ArgumentException($"Layer '{layers.FirstOrDefault()}': weights must be {batch} non-empty m x n matrices stacked; got {stacked.ShapeText}.", nameof(stacked));
        var clock = Stopwatch.StartNew();
        int m = stacked.Rows / batch, n = stacked.Cols, r = Math.Min(m, n), kCap = Math.Min(options.KMax, r);
        var norms = new SquaredNorm[batch];
        for (var i = 0; i < batch; i++)
        {
            norms[i] = backend.SumOfSquares(new RowBlock(stacked, i * m, m));
            if (norms[i].NonFinite > 0)
                throw new ArgumentException($"Layer '{layers[i]}': weight [{m}, {n}] has {norms[i].NonFinite} NaN or infinite values.", nameof(stacked));
        }
        var seeds = layers.Select(l => LayerSeed(l, options.Seed)).ToArray();
        // float32 GEMMs square ||W|| in the Gram matrices: weights far from unit size (huge values overflow, tiny ones
        // underflow) are scaled by a power of two first (exact) and the values scaled back.
        var largest = Math.Sqrt(norms.Max(x => x.SumOfSquares));
        var exponent = largest > 0 && (largest > ScaleLimit || largest < 1 / ScaleLimit) ? (int)Math.Round(Math.Log2(largest)) : 0;
        using var scaledCopy = exponent == 0 ? null : backend.Empty(stacked.DType, stacked.Shape);   // exact: a power of two
        if (scaledCopy is not null) backend.Axpby((float)Math.ScaleB(1.0, -exponent), stacked, 0f, scaledCopy);
        var work = scaledCopy ?? stacked;
        var svds = KrylovSvd.ComputeBatch(backend, work, batch, kCap, options.Krylov, seeds);
        if (exponent != 0)
            foreach (var svd in svds)
                for (var v = 0; v < svd.Values.Length; v++) svd.Values[v] = (float)Math.ScaleB(svd.Values[v], exponent);
        var results = new List<LayerFactors>();
        try
        {
            var estimate = options.Criterion == RankCriterion.SumFraction && !svds[0].IsDense && !options.UsesExactSpectrum(m, n)
                           && FitsQuadrature(svds[0], options.Krylov)
                ? NuclearNorm.EstimateBatch(backend, work, svds, options.Krylov.Probes, options.Krylov.LanczosSteps,
                    seeds.Select(x => x ^ ProbeSeedSalt).ToArray(), Math.ScaleB(1.0, exponent))
                : null;
            var shared = clock.Elapsed.TotalSeconds / batch;
            for (var i = 0; i < batch; i++)
            {
                var own = Stopwatch.StartNew();
                var svd = svds[i];
                float[] s;
                double total;
                // A dense (small) layer's values come from the vendor solver: cheap at that size, and exact.
                var exact = svd.IsDense || (options.Criterion == RankCriterion.SumFraction && estimate is null)
                    ? ExactValues(backend, new RowBlock(stacked, i * m, m))
                    : null;
                if (options.Criterion == RankCriterion.EnergyFraction)
                {
                    s = (exact ?? svd.Values)[..kCap];
                    total = norms[i].SumOfSquares;
                }
                else if (estimate is null)
                {
                    s = exact!;
                    total = s.Sum(v => (double)v);
                }
                else
                {
                    s = svd.Values[..kCap];
                    total = estimate[i].Value;
                }
                var k = ChooseRank(s, total, options, out var fraction);
                var (a, b) = svd.Factors(Math.Min(k, svd.VectorCount));
                var s1 = (double)s[0];
                var spectrum = new SpectrumSummary(s.Length, s1, s[k - 1], s[^1], total, norms[i].SumOfSquares,
                    s1 > 0 ? norms[i].SumOfSquares / (s1 * s1) : 0);
                var rank = new LayerRank(layers[i], m, n, k, fraction, shared + own.Elapsed.TotalSeconds, spectrum, options.Criterion,
                    options.Tau, Estimate: estimate?[i]);
                results.Add(new LayerFactors(rank, a, b, s));
            }
            return results.ToArray();
        }
        catch
        {
            foreach (var f in results) f.Dispose();
            throw;
        }
        finally
        {
            foreach (var svd in svds) svd.Dispose();
        }
    }

    /// <summary>All singular values of one stacked matrix (the vendor solver works on a copy anyway).</summary>
    private static float[] ExactValues(Backend backend, RowBlock w)
    {
        using var copy = backend.Empty(w.Count, w.Cols);
        backend.Copy(w, copy);
        return TruncatedSvd.ExactSingularValues(backend, copy);
    }

    /// <summary>||W||_F beyond which (or below whose inverse) the SVD works on a copy scaled by a power of two.</summary>
    private const double ScaleLimit = 1e15;

    /// <summary>Mixed into the layer seed for the quadrature's probes, so they are independent of the Krylov sketch.</summary>
    private const int ProbeSeedSalt = 0x2545F491;

    private static bool FitsQuadrature(KrylovSvd svd, KrylovOptions o) =>
        svd.VectorCount + o.Probes * o.LanczosSteps <= Math.Min(svd.Rows, svd.Cols);

    /// <summary>The seed of a layer's sketches: <paramref name="seed"/> mixed with a hash (FNV-1a) of the layer's name.</summary>
    public static int LayerSeed(string layer, int seed)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var h = 2166136261u;
        foreach (var ch in layer)
        {
            h = (h ^ (byte)ch) * 16777619u;
            h = (h ^ (byte)(ch >> 8)) * 16777619u;
        }
        return (int)h ^ seed;
    }

    /// <summary>
    /// The rank for singular values s (descending, finite, >= 0): the smallest k whose leading values (s_i, or s_i^2 for
    /// EnergyFraction) reach tau * <paramref name="totalForCriterion"/>, then clamped to [KMin, KMax] and to s.Length
    /// (pass all r values, or the leading min(KMax, r)). When the given values never reach the target, k is s.Length + 1
    /// before the clamps. A zero total (zero matrix) reaches everything at k = 1. fractionReached is the leading k
    /// values' share of the total.
    /// </summary>
    public static int ChooseRank(ReadOnlySpan<float> singularValuesDescending, double totalForCriterion, RankOptions o,
        out double fractionReached)
    {
        ArgumentNullException.ThrowIfNull(o);
        o.Validate();
        var s = singularValuesDescending;
        if (s.IsEmpty) throw new ArgumentException("At least one singular value is needed.", nameof(singularValuesDescending));
        for (var i = 0; i < s.Length; i++)
        {
            if (!float.IsFinite(s[i]) || s[i] < 0)
                throw new ArgumentException($"Singular value {i} is {s[i]}; they must be finite and >= 0.", nameof(singularValuesDescending));
            if (i > 0 && s[i] > s[i - 1])
                throw new ArgumentException($"Singular values must be descending; s[{i}] = {s[i]} > s[{i - 1}] = {s[i - 1]}.",
                    nameof(singularValuesDescending));
        }
        if (!double.IsFinite(totalForCriterion) || totalForCriterion < 0)
            throw new ArgumentOutOfRangeException(nameof(totalForCriterion), $"Total must be finite and >= 0; got {totalForCriterion}.");

        var energy = o.Criterion == RankCriterion.EnergyFraction;
        var target = o.Tau * totalForCriterion * (1 - TieTolerance);
        var kRaw = s.Length + 1;
        double cum = 0;
        if (totalForCriterion == 0) kRaw = 1;
        else
            for (var j = 0; j < s.Length; j++)
            {
                cum += energy ? (double)s[j] * s[j] : s[j];
                if (cum >= target)
                {
                    kRaw = j + 1;
                    break;
                }
            }
        var k = Math.Min(Math.Clamp(kRaw, o.KMin, o.KMax), s.Length);
        double reached = 0;
        for (var j = 0; j < k; j++) reached += energy ? (double)s[j] * s[j] : s[j];
        fractionReached = totalForCriterion == 0 ? 1 : Math.Min(1, reached / totalForCriterion);
        return k;
    }

    /// <summary>
    /// A plan for every matrix of a checkpoint (each uploaded to the backend in turn). <paramref name="progress"/> is called
    /// after each layer with its rank and the singular values it was read from (e.g. for a plot).
    /// </summary>
    public static RankPlan Plan(Backend backend, IEnumerable<WeightMatrix> matrices, RankOptions options,
        Action<LayerRank, float[]>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(matrices);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var layers = new List<LayerRank>();
        foreach (var m in matrices)
        {
            using var w = backend.FromArray(m.Load(), m.Rows, m.Cols);
            var layer = ForMatrix(backend, m.Name, w, options, out var singularValues);
            progress?.Invoke(layer, singularValues);
            layers.Add(layer);
        }
        return new RankPlan(layers, options);
    }
}
