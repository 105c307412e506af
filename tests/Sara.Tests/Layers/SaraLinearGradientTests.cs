using Sara.Native.Autograd;
using Sara.Native.Layers;
using Sara.Tests.Support;

namespace Sara.Tests.Layers;

/// <summary>SaraLinear forward and every gradient against the float64 oracle; the oracle against finite differences.</summary>
public class SaraLinearGradientTests
{
    private static readonly (int T, int N, int M, int K)[] Shapes =
        [(1, 7, 5, 1), (13, 33, 17, 4), (65, 40, 70, 9), (37, 129, 65, 33), (100, 64, 48, 40)];

    public static IEnumerable<TestCaseData> Cases() =>
        from d in TestDevices.Emulated from s in Shapes
        select new TestCaseData(d, s.T, s.N, s.M, s.K).SetArgDisplayNames(d, $"T{s.T}", $"n{s.N}", $"m{s.M}", $"k{s.K}");

    [TestCaseSource(nameof(Cases))]
    public void ForwardAndGradientsMatchOracle(string device, int t, int n, int m, int k)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        var o = new SaraOracle(t, n, m, k) { Scale = 0.5 };
        float[] xs = r.Normal((long)t * n), w0 = r.Normal((long)m * n), bias = r.Normal(m), a = r.Normal((long)m * k),
            b = r.Normal((long)k * n), lam = r.Normal(k), g = r.Normal((long)t * m);
        (o.X, o.W0, o.Bias, o.A, o.B, o.Lambda) = (Oracle.D(xs), Oracle.D(w0), Oracle.D(bias), Oracle.D(a), Oracle.D(b), Oracle.D(lam));

        using var layer = SaraLinear.FromFactors(backend, "layer", w0, m, n, bias, a, b, k, lam,
            new SaraOptions { Scale = 0.5f, TrainBias = true });
        var tape = new Tape();
        using var x = new Variable(backend.FromArray(xs, t, n), requiresGrad: true, "x");
        using var y = layer.Forward(tape, x);
        Oracle.AssertClose(y.Value.ToArray(), o.Forward(), 1e-5, "Y");

        using var seed = backend.FromArray(g, t, m);
        tape.Seed(y, seed);
        tape.Backward();

        var (dX, dLambda, dA, dB, dBias) = o.Backward(Oracle.D(g));
        Oracle.AssertClose(x.Grad!.ToArray(), dX, 1e-5, "dX");
        Oracle.AssertClose(layer.Lambda.Grad!.ToArray(), dLambda, 1e-5, "dlambda");
        Oracle.AssertClose(layer.A.Grad!.ToArray(), dA, 1e-5, "dA");
        Oracle.AssertClose(layer.B.Grad!.ToArray(), dB, 1e-5, "dB");
        Oracle.AssertClose(layer.Bias!.Grad!.ToArray(), dBias, 1e-5, "dbias");
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
            Assert.That(err, Is.LessThan(1e-6), $"d{name}: finite differences disagree ({err:E2})");
        }
    }
}
