using Sara.Tests.DeviceCheck;
using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.Support;

namespace Sara.Tests.Layers;

/// <summary>SaraLinear forward and every gradient against the float64 oracle; the oracle against finite differences.</summary>
public class SaraLinearGradientTests
{
    // The shared parity shapes (DeviceCheck/Parity), also run on a real GPU by bench/Sara.DeviceCheck.
    private static readonly (int T, int N, int M, int K)[] Shapes = SaraLayerParity.Shapes;

    public static IEnumerable<TestCaseData> Cases() =>
        from d in TestDevices.Emulated from s in Shapes
        select new TestCaseData(d, s.T, s.N, s.M, s.K).SetArgDisplayNames(d, $"T{s.T}", $"n{s.N}", $"m{s.M}", $"k{s.K}");

    [TestCaseSource(nameof(Cases))]
    public void ForwardAndGradientsMatchOracle(string device, int t, int n, int m, int k)
    {
        using var backend = TestDevices.Create(device);
        ParityAssert.AllPass(SaraLayerParity.Run(backend, t, n, m, k, new Rand()));
    }

    [Test]
    public void OracleGradientsMatchFiniteDifferences()
    {
        const int t = 5, n = 6, m = 4, k = 3;
        var r = new Rand();
        var o = new SaraOracle(t, n, m, k)
        {
            X = Oracle.D(r.Normal(t * n)), W0 = Oracle.D(r.Normal(m * n)), Bias = Oracle.D(r.Normal(m)),
            A = Oracle.D(r.Normal(m * k)), B = Oracle.D(r.Normal(k * n)), Lambda = Oracle.D(r.Normal(k)), Scale = 0.7,
        };
        var rr = Oracle.D(r.Normal(t * m));
        var (dX, dLambda, dA, dB, dBias) = o.Backward(rr);
        foreach (var (name, p, grad) in new[] { ("X", o.X, dX), ("lambda", o.Lambda, dLambda), ("A", o.A, dA), ("B", o.B, dB), ("bias", o.Bias, dBias) })
        {
            var fd = new double[p.Length];
            for (var i = 0; i < p.Length; i++)
            {
                var keep = p[i];
                const double eps = 1e-6;
                p[i] = keep + eps;
                var lp = o.Loss(rr);
                p[i] = keep - eps;
                var lm = o.Loss(rr);
                p[i] = keep;
                fd[i] = (lp - lm) / (2 * eps);
            }
            var err = Oracle.RelErr(Array.ConvertAll(grad, v => (float)v), fd);
            Assert.That(err, Is.Not.NaN.And.LessThan(1e-6), $"d{name}: finite differences disagree ({err:E2})");
        }
    }
}
