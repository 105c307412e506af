using Sara.Tests.Support;

namespace Sara.Tests.Routing;

/// <summary>
/// The oracle's backward against float64 central differences of its own forward: loss = sum(Z (.) R) + the balance term
/// (f_e held constant, as the method defines it). Every entry of h, Wg, bg and Lambda is perturbed.
/// </summary>
public class RoutingOracleGradientTests
{
    [TestCase(5, 6, 7, 0, 0.0)]
    [TestCase(5, 6, 7, 3, 0.7)]
    [TestCase(4, 1, 3, 0, 0.5)]
    [TestCase(6, 4, 5, 1, 0.9)]
    [TestCase(3, 35, 2, 5, 0.4)]
    public void OracleGradientsMatchFiniteDifferences(int t, int e, int k, int topK, double beta)
    {
        var rand = new Rand();
        var x = RouterInputs.Draw(rand, t, e, k, topK);
        double[] h = Oracle.D(x.H), wg = Oracle.D(x.Wg), bg = Oracle.D(x.Bg), lambda = Oracle.D(x.Lambda);
        var r = Oracle.D(rand.Normal((long)t * k));
        var f = RoutingOracle.Run(h, wg, bg, lambda, t, e, k, topK);
        var (counts, _) = RoutingOracle.Counts(f.Gates, t, e);
        var g = RoutingOracle.Backward(r, h, wg, lambda, f.Gates, f.LamEff, t, e, k, beta);

        double Loss() => RoutingOracle.Loss(h, wg, bg, lambda, t, e, k, topK, r, beta, counts);
        var scale = Math.Abs(Loss()) + 1;
        Compare(h, g.DH, "h");
        Compare(wg, g.DWg, "Wg");
        Compare(bg, g.Dbg, "bg");
        Compare(lambda, g.DLambda, "Lambda");

        void Compare(double[] param, double[] analytic, string name)
        {
            const double eps = 1e-5;   // moves a logit by at most ~4e-5, below the 1e-4 gap: the kept set cannot change
            for (var i = 0; i < param.Length; i++)
            {
                var keep = param[i];
                param[i] = keep + eps;
                var up = Loss();
                param[i] = keep - eps;
                var down = Loss();
                param[i] = keep;
                var fd = (up - down) / (2 * eps);
                Assert.That(Math.Abs(fd - analytic[i]), Is.Not.NaN.And.LessThan(1e-6 * (scale + Math.Abs(analytic[i]))),
                    $"d loss / d {name}[{i}]: analytic {analytic[i]:E6}, finite difference {fd:E6}");
            }
        }
    }

    [Test]
    public void BalanceTermChangesTheGradient()
    {
        // Guards against a balance term that is silently ignored: beta > 0 must move dWg and dbg (but not dLambda).
        var rand = new Rand();
        var x = RouterInputs.Draw(rand, 6, 4, 5, 0);
        double[] h = Oracle.D(x.H), wg = Oracle.D(x.Wg), lambda = Oracle.D(x.Lambda), dz = Oracle.D(rand.Normal(30));
        var f = x.Oracle();
        var g0 = RoutingOracle.Backward(dz, h, wg, lambda, f.Gates, f.LamEff, 6, 4, 5, 0);
        var g1 = RoutingOracle.Backward(dz, h, wg, lambda, f.Gates, f.LamEff, 6, 4, 5, 0.5);
        Assert.That(Oracle.RelErr(Array.ConvertAll(g1.Dbg, v => (float)v), g0.Dbg), Is.GreaterThan(1e-3));
        Assert.That(g1.DLambda, Is.EqualTo(g0.DLambda));
    }
}
