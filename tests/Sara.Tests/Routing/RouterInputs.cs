using Sara.Tests.Support;

namespace Sara.Tests.Routing;

/// <summary>
/// Fresh random router inputs (T tokens, E experts, rank k). Logits are O(1) (Wg ~ N(0, 1/k)). With top-k_r, a token
/// whose k-th and (k+1)-th logits lie within <see cref="MinGap"/> gets a fresh row of H (or, when H is given, the router
/// weights are redrawn): float32 rounding (~1e-6 here) must not be able to change the kept set. Exact ties are tested
/// separately, with constructed inputs.
/// </summary>
public sealed class RouterInputs
{
    public const double MinGap = 1e-4;

    public required int T, E, K, TopK;
    public required float[] H, Wg, Bg, Lambda;

    public static RouterInputs Draw(Rand r, int t, int e, int k, int topK, float[]? h = null)
    {
        var x = new RouterInputs
        {
            T = t, E = e, K = k, TopK = topK,
            H = h ?? r.Normal((long)t * k), Wg = r.Normal((long)e * k, 1 / Math.Sqrt(k)), Bg = r.Normal(e, 0.5),
            Lambda = r.Normal((long)e * k),
        };
        if (topK == 0 || topK == e) return x;
        for (var attempt = 0; ; attempt++)
        {
            var close = Enumerable.Range(0, t).Where(row => x.BoundaryGap(row) < MinGap).ToArray();
            if (close.Length == 0) return x;
            if (attempt >= 50) throw new InvalidOperationException($"could not draw separated logits for T={t} E={e} k={k} topK={topK}");
            if (h is not null)
            {
                x.Wg = r.Normal((long)e * k, 1 / Math.Sqrt(k));
                x.Bg = r.Normal(e, 0.5);
            }
            else foreach (var row in close) r.Normal(k).CopyTo(x.H, (long)row * k);
        }
    }

    /// <summary>Gap between the topK-th and (topK+1)-th largest logit of token <paramref name="row"/> (float64).</summary>
    public double BoundaryGap(int row)
    {
        var p = new double[E];
        for (var x = 0; x < E; x++)
        {
            double s = Bg[x];
            for (var j = 0; j < K; j++) s += (double)H[(long)row * K + j] * Wg[(long)x * K + j];
            p[x] = s;
        }
        Array.Sort(p);
        return p[E - TopK] - p[E - TopK - 1];
    }

    public RoutingOracle.Forward Oracle() =>
        RoutingOracle.Run(Support.Oracle.D(H), Support.Oracle.D(Wg), Support.Oracle.D(Bg), Support.Oracle.D(Lambda), T, E, K, TopK);
}

