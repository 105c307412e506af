using Sara.Tests.Support;

namespace Sara.Tests.Routing;

/// <summary>
/// Fresh random router inputs (T tokens, E experts, rank k). Logits are O(1) (Wg ~ N(0, 1/k)). With top-k_r, inputs whose
/// k-th and (k+1)-th logits of some token lie within <see cref="MinGap"/> are redrawn: float32 rounding must not be able
/// to change the kept set (exact ties are tested separately, with constructed inputs).
/// </summary>
public sealed class RouterInputs
{
    public const double MinGap = 1e-3;

    public required int T, E, K, TopK;
    public required float[] H, Wg, Bg, Lambda;

    public static RouterInputs Draw(Rand r, int t, int e, int k, int topK, float[]? h = null)
    {
        for (var attempt = 0; ; attempt++)
        {
            var x = new RouterInputs
            {
                T = t, E = e, K = k, TopK = topK,
                H = h ?? r.Normal((long)t * k), Wg = r.Normal((long)e * k, 1 / Math.Sqrt(k)), Bg = r.Normal(e, 0.5),
                Lambda = r.Normal((long)e * k),
            };
            if (topK == 0 || topK == e || x.BoundaryGap() >= MinGap) return x;
            Assert.That(attempt, Is.LessThan(20), $"could not draw separated logits for T={t} E={e} k={k} topK={topK}");
        }
    }

    /// <summary>Smallest gap, over tokens, between the topK-th and (topK+1)-th largest logit (float64).</summary>
    public double BoundaryGap()
    {
        var gap = double.PositiveInfinity;
        var p = new double[E];
        for (var row = 0; row < T; row++)
        {
            for (var x = 0; x < E; x++)
            {
                double s = Bg[x];
                for (var j = 0; j < K; j++) s += (double)H[(long)row * K + j] * Wg[(long)x * K + j];
                p[x] = s;
            }
            Array.Sort(p);
            Array.Reverse(p);
            gap = Math.Min(gap, p[TopK - 1] - p[TopK]);
        }
        return gap;
    }

    public RoutingOracle.Forward Oracle() =>
        RoutingOracle.Run(Support.Oracle.D(H), Support.Oracle.D(Wg), Support.Oracle.D(Bg), Support.Oracle.D(Lambda), T, E, K, TopK);
}
