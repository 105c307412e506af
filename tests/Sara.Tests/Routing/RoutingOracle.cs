namespace Sara.Tests.Routing;

/// <summary>
/// Float64 reference for Mo-SARA's router (DESIGN 1.3), written straight from the formulas, one token at a time.
/// Top-k_r: expert x is kept when fewer than topK experts beat it (higher logit, or equal logit and lower index).
/// </summary>
public static class RoutingOracle
{
    public sealed record Forward(double[] Gates, double[] LamEff, double[] Z);

    public sealed record Gradients(double[] DH, double[] DLambda, double[] DWg, double[] Dbg);

    public static Forward Run(double[] h, double[] wg, double[] bg, double[] lambda, int t, int e, int k, int topK)
    {
        var gates = new double[(long)t * e];
        var lamEff = new double[(long)t * k];
        var z = new double[(long)t * k];
        var p = new double[e];
        for (var r = 0; r < t; r++)
        {
            for (var x = 0; x < e; x++)
            {
                var s = bg[x];
                for (var j = 0; j < k; j++) s += h[(long)r * k + j] * wg[(long)x * k + j];
                p[x] = s;
            }
            var keep = Kept(p, topK);
            var max = p.Max();
            double total = 0;
            for (var x = 0; x < e; x++) total += keep[x] ? Math.Exp(p[x] - max) : 0;
            for (var x = 0; x < e; x++) gates[(long)r * e + x] = keep[x] ? Math.Exp(p[x] - max) / total : 0;
            for (var j = 0; j < k; j++)
            {
                double s = 0;
                for (var x = 0; x < e; x++) s += gates[(long)r * e + x] * lambda[(long)x * k + j];
                lamEff[(long)r * k + j] = s;
                z[(long)r * k + j] = h[(long)r * k + j] * s;
            }
        }
        return new Forward(gates, lamEff, z);
    }

    /// <summary>
    /// The forward's sums on absolute values with the gates held at the real ones: lamEff = gates |Lambda|,
    /// Z = |h| (.) lamEff. The cancellation-aware floor for comparing lamEff and Z (Oracle.RelErr).
    /// </summary>
    public static Forward RunAbsolute(double[] gates, double[] h, double[] lambda, int t, int e, int k)
    {
        var lamEff = new double[(long)t * k];
        var z = new double[(long)t * k];
        for (var r = 0; r < t; r++)
            for (var j = 0; j < k; j++)
            {
                double s = 0;
                for (var x = 0; x < e; x++) s += gates[(long)r * e + x] * Math.Abs(lambda[(long)x * k + j]);
                lamEff[(long)r * k + j] = s;
                z[(long)r * k + j] = Math.Abs(h[(long)r * k + j]) * s;
            }
        return new Forward(gates, lamEff, z);
    }

    public static bool[] Kept(double[] p, int topK)
    {
        var keep = new bool[p.Length];
        for (var x = 0; x < p.Length; x++)
        {
            var beaten = 0;
            for (var y = 0; y < p.Length; y++)
                if (p[y] > p[x] || (p[y] == p[x] && y < x)) beaten++;
            keep[x] = topK == 0 || beaten < topK;
        }
        return keep;
    }

    /// <summary>Count of tokens whose top gate is each expert (ties: lower index) and the sum of each expert's gates.</summary>
    public static (double[] Counts, double[] Sums) Counts(double[] gates, int t, int e)
    {
        var counts = new double[e];
        var sums = new double[e];
        for (var r = 0; r < t; r++)
        {
            var top = 0;
            for (var x = 0; x < e; x++)
            {
                if (gates[(long)r * e + x] > gates[(long)r * e + top]) top = x;
                sums[x] += gates[(long)r * e + x];
            }
            counts[top]++;
        }
        return (counts, sums);
    }

    /// <summary>
    /// Gradients of sum(Z (.) dz) + beta E sum_e f_e mean_t g_te, with f_e (from <paramref name="gates"/>) a constant.
    /// gates and lamEff are the forward's saved values; dropped experts are those with gate 0.
    /// absoluteTerms: every input is taken by absolute value and every difference becomes a sum (dP = g (dg + s)): the
    /// same computation on absolute values, the cancellation-aware floor of <see cref="Support.Oracle.RelErr(float[], double[], double[])"/>.
    /// </summary>
    public static Gradients Backward(double[] dz, double[] h, double[] wg, double[] lambda, double[] gates, double[] lamEff,
        int t, int e, int k, double beta, bool absoluteTerms = false)
    {
        var dh = new double[(long)t * k];
        var dLambda = new double[(long)e * k];
        var dWg = new double[(long)e * k];
        var dbg = new double[e];
        var coef = new double[e];
        if (beta > 0)
        {
            var (counts, _) = Counts(gates, t, e);
            for (var x = 0; x < e; x++) coef[x] = beta * e * (counts[x] / t) / t;
        }
        if (absoluteTerms) (dz, h, wg, lambda, lamEff) = (Abs(dz), Abs(h), Abs(wg), Abs(lambda), Abs(lamEff));
        var dlam = new double[k];
        var dg = new double[e];
        var dp = new double[e];
        for (var r = 0; r < t; r++)
        {
            for (var j = 0; j < k; j++) dlam[j] = dz[(long)r * k + j] * h[(long)r * k + j];
            double s = 0;
            for (var x = 0; x < e; x++)
            {
                double d = coef[x];
                for (var j = 0; j < k; j++) d += dlam[j] * lambda[(long)x * k + j];
                dg[x] = d;
                s += gates[(long)r * e + x] * d;
            }
            for (var x = 0; x < e; x++)
            {
                var g = gates[(long)r * e + x];
                dp[x] = absoluteTerms ? g * (dg[x] + s) : g * (dg[x] - s);
                dbg[x] += dp[x];
                for (var j = 0; j < k; j++)
                {
                    dLambda[(long)x * k + j] += g * dlam[j];
                    dWg[(long)x * k + j] += dp[x] * h[(long)r * k + j];
                }
            }
            for (var j = 0; j < k; j++)
            {
                var d = dz[(long)r * k + j] * lamEff[(long)r * k + j];
                for (var x = 0; x < e; x++) d += dp[x] * wg[(long)x * k + j];
                dh[(long)r * k + j] = d;
            }
        }
        return new Gradients(dh, dLambda, dWg, dbg);
    }

    private static double[] Abs(double[] a) => Array.ConvertAll(a, Math.Abs);

    /// <summary>The scalar the gradients differentiate: sum(Z (.) R) + beta E sum_e (counts_e / T) mean_t g_te.</summary>
    public static double Loss(double[] h, double[] wg, double[] bg, double[] lambda, int t, int e, int k, int topK,
        double[] r, double beta, double[] counts)
    {
        var f = Run(h, wg, bg, lambda, t, e, k, topK);
        double loss = 0;
        for (var i = 0; i < f.Z.Length; i++) loss += f.Z[i] * r[i];
        for (var x = 0; x < e; x++)
        {
            double mean = 0;
            for (var row = 0; row < t; row++) mean += f.Gates[(long)row * e + x];
            loss += beta * e * (counts[x] / t) * (mean / t);
        }
        return loss;
    }
}
