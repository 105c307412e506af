using Sara.Native.Tensors;

namespace Sara.Native.Backends;

// Mo-SARA's router over the low-rank projection H (DESIGN 1.3); kernels in kernels/routing.cu.
// Top-k_r ties: among equal logits the lower expert index is kept. topK = 0 means the dense softmax.
public abstract partial class Backend
{
    /// <summary>Most experts the routing ops support (one or two per lane of a warp).</summary>
    public const int MaxRoutingExperts = 64;

    /// <summary>Largest rank k the routing ops support (16 per lane of a warp, in registers).</summary>
    public const int MaxRoutingRank = 512;

    /// <summary>
    /// P = H Wg^T + bg; gates = softmax(P) per token (topK > 0: only the topK largest logits kept, renormalised;
    /// dropped gates are exactly 0); lamEff = gates Lambda; Z = H (.) lamEff.
    /// h: T x k, wg and lambdas: E x k, bg: E; outputs gates: T x E, lamEff and z: T x k.
    /// checkFinite: throw when an input holds NaN or Inf (downloads the inputs: for debugging).
    /// </summary>
    public void RoutingForward(Tensor h, Tensor wg, Tensor bg, Tensor lambdas, int topK,
        Tensor gates, Tensor lamEff, Tensor z, bool checkFinite = false)
    {
        var (t, e, k) = CheckRouter(h, wg, lambdas, topK);
        Check.Vector(this, bg, e, nameof(bg));
        Check.SameShape(this, gates, [t, e], nameof(gates));
        Check.SameShape(this, lamEff, [t, k], nameof(lamEff));
        Check.SameShape(this, z, [t, k], nameof(z));
        if (checkFinite)
        {
            CheckFinite(h, nameof(h));
            CheckFinite(wg, nameof(wg));
            CheckFinite(bg, nameof(bg));
            CheckFinite(lambdas, nameof(lambdas));
        }
        RoutingForwardCore(h, wg, bg, lambdas, topK, gates, lamEff, z);
    }

    /// <summary>
    /// Backward of <see cref="RoutingForward"/> given dZ (T x k) and the saved gates and lamEff:
    /// dh = dZ (.) lamEff + dP Wg (both terms), dLambdas = gates^T (dZ (.) H), dWg = dP^T H, dbg = column sums of dP,
    /// with dP the softmax backward over the kept experts (dropped experts get 0). Sums over tokens run in a
    /// fixed order (same bits every run). balanceWeight = beta &gt; 0 adds the Switch-style load-balancing loss
    /// L_aux = beta E sum_e f_e mean_t g_te (f_e = fraction of tokens whose top gate is e, a constant):
    /// dL_aux/dg_te = beta E f_e / T. topK is the forward's (the kept set is read from the zero gates).
    /// </summary>
    public void RoutingBackward(Tensor dz, Tensor h, Tensor wg, Tensor lambdas, Tensor gates, Tensor lamEff, int topK,
        float balanceWeight, Tensor dh, Tensor dLambdas, Tensor dWg, Tensor dbg, bool checkFinite = false)
    {
        var (t, e, k) = CheckRouter(h, wg, lambdas, topK);
        Check.SameShape(this, dz, [t, k], nameof(dz));
        Check.SameShape(this, gates, [t, e], nameof(gates));
        Check.SameShape(this, lamEff, [t, k], nameof(lamEff));
        if (!float.IsFinite(balanceWeight) || balanceWeight < 0)
            throw new ArgumentOutOfRangeException(nameof(balanceWeight), $"balanceWeight must be finite and >= 0; got {balanceWeight}.");
        Check.SameShape(this, dh, [t, k], nameof(dh));
        Check.SameShape(this, dLambdas, [e, k], nameof(dLambdas));
        Check.SameShape(this, dWg, [e, k], nameof(dWg));
        Check.Vector(this, dbg, e, nameof(dbg));
        if (checkFinite)
        {
            CheckFinite(dz, nameof(dz));
            CheckFinite(h, nameof(h));
            CheckFinite(wg, nameof(wg));
            CheckFinite(lambdas, nameof(lambdas));
            CheckFinite(gates, nameof(gates));
            CheckFinite(lamEff, nameof(lamEff));
        }
        RoutingBackwardCore(dz, h, wg, lambdas, gates, lamEff, balanceWeight, dh, dLambdas, dWg, dbg);
    }

    /// <summary>
    /// Per expert: the fraction of tokens whose top gate is that expert (ties: lower index) and the mean gate.
    /// gates: T x E (T = 0 gives zeros). Deterministic.
    /// </summary>
    public RouterStats RouterStatistics(Tensor gates)
    {
        Check.Matrix(this, gates, nameof(gates));
        var e = gates.Cols;
        if (e is < 1 or > MaxRoutingExperts)
            throw new ArgumentOutOfRangeException(nameof(gates), $"gates must be T x E with E in [1, {MaxRoutingExperts}]; got {gates.ShapeText}.");
        var counts = new float[e];
        var sums = new float[e];
        if (gates.Rows > 0) RouterCountsCore(gates, counts, sums);
        var inv = gates.Rows == 0 ? 0.0 : 1.0 / gates.Rows;
        return new RouterStats(Array.ConvertAll(counts, c => (float)(c * inv)), Array.ConvertAll(sums, s => (float)(s * inv)));
    }

    private (int T, int E, int K) CheckRouter(Tensor h, Tensor wg, Tensor lambdas, int topK,
        [System.Runtime.CompilerServices.CallerMemberName] string op = "")
    {
        Check.Matrix(this, h, nameof(h), op: op);
        Check.Matrix(this, wg, nameof(wg), op: op);
        int t = h.Rows, k = h.Cols, e = wg.Rows;
        if (k is < 1 or > MaxRoutingRank)
            throw new ArgumentOutOfRangeException(nameof(h), $"h must be T x k with k in [1, {MaxRoutingRank}]; got {h.ShapeText}.");
        if (e is < 1 or > MaxRoutingExperts)
            throw new ArgumentOutOfRangeException(nameof(wg), $"wg must be E x {k} with E (experts) in [1, {MaxRoutingExperts}]; got {wg.ShapeText}.");
        Check.SameShape(this, wg, [e, k], nameof(wg), op: op);
        Check.SameShape(this, lambdas, [e, k], nameof(lambdas), op: op);
        if (topK < 0 || topK > e)
            throw new ArgumentOutOfRangeException(nameof(topK), $"topK must be 0 (dense softmax) or in [1, E = {e}]; got {topK}.");
        return (t, e, k);
    }

    private void CheckFinite(Tensor t, string name)
    {
        var data = t.ToArray();
        for (var i = 0; i < data.Length; i++)
            if (!float.IsFinite(data[i]))
                throw new ArgumentException($"'{name}' {t.ShapeText} holds {data[i]} at flat index {i} (row {i / t.Cols}, column {i % t.Cols}).", name);
    }

    protected abstract void RoutingForwardCore(Tensor h, Tensor wg, Tensor bg, Tensor lambdas, int topK,
        Tensor gates, Tensor lamEff, Tensor z);

    protected abstract void RoutingBackwardCore(Tensor dz, Tensor h, Tensor wg, Tensor lambdas, Tensor gates, Tensor lamEff,
        float balanceWeight, Tensor dh, Tensor dLambdas, Tensor dWg, Tensor dbg);

    /// <summary>counts[e] = tokens whose top gate is e (ties: lower index); sums[e] = sum over tokens of gates[t, e]. T &gt;= 1.</summary>
    protected abstract void RouterCountsCore(Tensor gates, float[] counts, float[] sums);
}

/// <summary>
/// Router statistics of one step: TopFraction[e] = fraction of tokens whose top gate is expert e (ties: lower index),
/// MeanGate[e] = mean over tokens of the gate of e.
/// </summary>
public sealed record RouterStats(float[] TopFraction, float[] MeanGate)
{
    public int Experts => TopFraction.Length;

    /// <summary>The Switch-style load-balancing loss beta * E * sum_e f_e * mean_t g_te.</summary>
    public float BalanceLoss(float beta)
    {
        double s = 0;
        for (var e = 0; e < Experts; e++) s += (double)TopFraction[e] * MeanGate[e];
        return (float)(beta * Experts * s);
    }
}
