using Sara.Native.Backends;
using Sara.Native.Svd;
using Sara.Native.Tensors;

namespace Sara.Native.Layers;

/// <summary>
/// What SARA and Mo-SARA layers share at construction: W0 (+ bias) checked, rank planned, A = U_k, B = V_k^T.
/// W0 keeps its dtype (a bf16 / f16 W0 stays 16-bit: DESIGN 3.1); the bias is float32; A and B are float32 unless the
/// caller asks for frozen 16-bit factors (Mo-SARA).
/// </summary>
internal sealed record PretrainedFactors(Tensor W0, Tensor? Bias, Tensor A, Tensor B, LayerRank? Plan)
{
    public int K => A.Cols;

    /// <summary>Plans the rank of w (m x n) and takes A, B from its truncated SVD. Owns w and bias: disposes them on failure.</summary>
    public static PretrainedFactors Compute(Backend backend, string name, Tensor w, Tensor? bias,
        RankOptions rank, int? fixedRank, SvdOptions? svdOptions, DType factorType)
    {
        using var _ = TensorScope.Suspend();
        try
        {
            CheckFrozen(backend, name, w, bias);
            int m = w.Rows, n = w.Cols;
            if (fixedRank is null && svdOptions is null)
            {
                // One block Krylov SVD gives the rank and the factors (RankPlanner.Factorize).
                var f = RankPlanner.Factorize(backend, name, w, rank);
                var (fa, fb) = InType(backend, f.A, f.B, factorType);
                return new PretrainedFactors(w, bias, fa, fb, f.Rank);
            }
            // A fixed rank needs no spectrum: the plan is skipped. Explicit SvdOptions keep the subspace iteration.
            var plan = fixedRank is null ? RankPlanner.ForMatrix(backend, name, w, rank) : null;
            var k = fixedRank ?? plan!.K;
            CheckRank(name, k, m, n);
            if (svdOptions is null)
            {
                using var krylov = KrylovSvd.Compute(backend, w, k, rank.Krylov, RankPlanner.LayerSeed(name, rank.Seed));
                var (ka, kb) = krylov.Factors(k);
                (ka, kb) = InType(backend, ka, kb, factorType);
                return new PretrainedFactors(w, bias, ka, kb, plan);
            }
            using var svd = TruncatedSvd.Compute(backend, w, svdOptions with { Rank = k });
            var a = backend.Empty(factorType, m, k);
            var bt = backend.Empty(factorType, k, n);
            backend.Convert(svd.U, a);
            backend.Convert(svd.Vt, bt);
            return new PretrainedFactors(w, bias, a, bt, plan);
        }
        catch
        {
            w.Dispose();
            bias?.Dispose();
            throw;
        }
    }

    /// <summary>Float32 factors a, b (owned) as <paramref name="type"/>: themselves, or rounded copies (the float32 ones disposed).</summary>
    private static (Tensor A, Tensor B) InType(Backend backend, Tensor a, Tensor b, DType type)
    {
        if (type == DType.F32) return (a, b);
        Tensor? a16 = null;
        try
        {
            a16 = backend.Empty(type, a.Shape);
            backend.Convert(a, a16);
            var b16 = backend.Empty(type, b.Shape);
            backend.Convert(b, b16);
            return (a16, b16);
        }
        catch
        {
            a16?.Dispose();
            throw;
        }
        finally
        {
            a.Dispose();
            b.Dispose();
        }
    }

    /// <summary>Given factors (a: m x k, b: k x n), e.g. from an adapter file: checked and uploaded; no plan. Owns w and bias.</summary>
    public static PretrainedFactors FromGiven(Backend backend, string name, Tensor w, Tensor? bias, float[] a, float[] b, int k, DType factorType)
    {
        using var _ = TensorScope.Suspend();
        try
        {
            CheckFrozen(backend, name, w, bias);
            int m = w.Rows, n = w.Cols;
            CheckRank(name, k, m, n);
            if (a.Length != (long)m * k) throw new ArgumentException($"Layer '{name}': A must be {m} x {k}; got {a.Length} values.", nameof(a));
            if (b.Length != (long)k * n) throw new ArgumentException($"Layer '{name}': B must be {k} x {n}; got {b.Length} values.", nameof(b));
            return new PretrainedFactors(w, bias, backend.FromArray(a, factorType, m, k), backend.FromArray(b, factorType, k, n), null);
        }
        catch
        {
            w.Dispose();
            bias?.Dispose();
            throw;
        }
    }

    /// <summary>Checks W0 (m x n, finite) and the bias given as arrays, and uploads both; W0 in <paramref name="w0Type"/>.</summary>
    public static (Tensor W0, Tensor? Bias) Upload(Backend backend, string name, float[] w0, int m, int n, float[]? bias, DType w0Type)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(m, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (w0.Length != (long)m * n) throw new ArgumentException($"Layer '{name}': W0 must be {m} x {n}; got {w0.Length} values.", nameof(w0));
        if (bias is not null && bias.Length != m) throw new ArgumentException($"Layer '{name}': bias must have {m} values; got {bias.Length}.", nameof(bias));
        foreach (var v in w0)
            if (!float.IsFinite(v)) throw new ArgumentException($"Layer '{name}': W0 contains NaN or Inf.", nameof(w0));
        using var _ = TensorScope.Suspend();
        var w = backend.FromArray(w0, w0Type, m, n);
        try
        {
            if (w0Type != DType.F32) CheckFinite(backend, name, w);   // rounding may overflow (f16: beyond 65504)
            return (w, bias is null ? null : backend.FromArray(bias, m));
        }
        catch
        {
            w.Dispose();
            throw;
        }
    }

    /// <summary>W0: a non-empty 2-D tensor on this backend, any dtype, finite; bias: float32 [m] or null.</summary>
    public static void CheckFrozen(Backend backend, string name, Tensor w, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (w.IsDisposed || !ReferenceEquals(w.Backend, backend))
            throw new ArgumentException($"Layer '{name}': W0 must be a live tensor on backend '{backend.Name}'.", nameof(w));
        if (w.Rank != 2 || w.Rows < 1 || w.Cols < 1)
            throw new ArgumentException($"Layer '{name}': W0 must be a non-empty m x n matrix; got {w.Describe}.", nameof(w));
        if (bias is not null && (bias.IsDisposed || !ReferenceEquals(bias.Backend, backend) || bias.Rank != 1 || bias.Length != w.Rows || bias.DType != DType.F32))
            throw new ArgumentException($"Layer '{name}': bias must be a live f32 tensor of shape [{w.Rows}] on '{backend.Name}'; got {bias.Describe}.", nameof(bias));
        CheckFinite(backend, name, w);
    }

    private static void CheckFinite(Backend backend, string name, Tensor w)
    {
        var bad = backend.SumOfSquares(w).NonFinite;
        if (bad == 0) return;
        var hint = w.DType == DType.F32 ? "" : $" (as {w.DType.Name()}: a value beyond {Precision.MaxFinite(w.DType)} rounds to infinity)";
        throw new ArgumentException($"Layer '{name}': W0 {w.Describe} contains {bad} NaN or infinite values{hint}.", nameof(w));
    }

    /// <summary>Runs a check on what the caller handed over; if it throws, disposes W0 and the bias (the layer owned them).</summary>
    public static void OrDispose(Action check, Tensor w0, Tensor? bias)
    {
        try { check(); }
        catch
        {
            w0?.Dispose();
            bias?.Dispose();
            throw;
        }
    }

    public static void CheckRank(string name, int k, int m, int n)
    {
        if (k < 1 || k > Math.Min(m, n))
            throw new ArgumentOutOfRangeException(nameof(k), $"Layer '{name}': rank {k} outside [1, {Math.Min(m, n)}].");
    }
}
