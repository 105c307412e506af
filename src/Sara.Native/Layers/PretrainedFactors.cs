using Sara.Native.Backends;
using Sara.Native.Svd;
using Sara.Native.Tensors;

namespace Sara.Native.Layers;

/// <summary>What SARA and Mo-SARA layers share at construction: W0 (+ bias) checked and uploaded, rank planned, A = U_k, B = V_k^T.</summary>
internal sealed record PretrainedFactors(Tensor W0, Tensor? Bias, Tensor A, Tensor B, LayerRank? Plan)
{
    public int K => A.Cols;

    public static PretrainedFactors Compute(Backend backend, string name, float[] w0, int m, int n, float[]? bias,
        RankOptions rank, int? fixedRank, SvdOptions? svdOptions)
    {
        using var _ = TensorScope.Suspend();
        var w = Upload(backend, name, w0, m, n, bias, out var b);
        try
        {
            if (fixedRank is null && svdOptions is null)
            {
                // One block Krylov SVD gives the rank and the factors (RankPlanner.Factorize).
                var f = RankPlanner.Factorize(backend, name, w, rank);
                return new PretrainedFactors(w, b, f.A, f.B, f.Rank);
            }
            // A fixed rank needs no spectrum: the plan is skipped. Explicit SvdOptions keep the subspace iteration.
            var plan = fixedRank is null ? RankPlanner.ForMatrix(backend, name, w, rank) : null;
            var k = fixedRank ?? plan!.K;
            CheckRank(name, k, m, n);
            if (svdOptions is null)
            {
                using var krylov = KrylovSvd.Compute(backend, w, k, rank.Krylov, RankPlanner.LayerSeed(name, rank.Seed));
                var (ka, kb) = krylov.Factors(k);
                return new PretrainedFactors(w, b, ka, kb, plan);
            }
            using var svd = TruncatedSvd.Compute(backend, w, svdOptions with { Rank = k });
            var a = backend.Empty(m, k);
            var bt = backend.Empty(k, n);
            backend.Copy(svd.U, a);
            backend.Copy(svd.Vt, bt);
            return new PretrainedFactors(w, b, a, bt, plan);
        }
        catch
        {
            w.Dispose();
            b?.Dispose();
            throw;
        }
    }

    /// <summary>Given factors (a: m x k, b: k x n), e.g. from an adapter file: checked and uploaded with W0; no plan.</summary>
    public static PretrainedFactors FromGiven(Backend backend, string name, float[] w0, int m, int n, float[]? bias,
        float[] a, float[] b, int k)
    {
        CheckRank(name, k, m, n);
        if (a.Length != (long)m * k) throw new ArgumentException($"Layer '{name}': A must be {m} x {k}; got {a.Length} values.", nameof(a));
        if (b.Length != (long)k * n) throw new ArgumentException($"Layer '{name}': B must be {k} x {n}; got {b.Length} values.", nameof(b));
        using var _ = TensorScope.Suspend();
        var w = Upload(backend, name, w0, m, n, bias, out var bt);
        return new PretrainedFactors(w, bt, backend.FromArray(a, m, k), backend.FromArray(b, k, n), null);
    }

    /// <summary>Checks W0 (shape, finite values) and the bias, and uploads both.</summary>
    public static Tensor Upload(Backend backend, string name, float[] w0, int m, int n, float[]? bias, out Tensor? b)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(m, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (w0.Length != (long)m * n) throw new ArgumentException($"Layer '{name}': W0 must be {m} x {n}; got {w0.Length} values.", nameof(w0));
        if (bias is not null && bias.Length != m) throw new ArgumentException($"Layer '{name}': bias must have {m} values; got {bias.Length}.", nameof(bias));
        foreach (var v in w0)
            if (!float.IsFinite(v)) throw new ArgumentException($"Layer '{name}': W0 contains NaN or Inf.", nameof(w0));
        b = bias is null ? null : backend.FromArray(bias, m);
        return backend.FromArray(w0, m, n);
    }

    public static void CheckRank(string name, int k, int m, int n)
    {
        if (k < 1 || k > Math.Min(m, n))
            throw new ArgumentOutOfRangeException(nameof(k), $"Layer '{name}': rank {k} outside [1, {Math.Min(m, n)}].");
    }
}
