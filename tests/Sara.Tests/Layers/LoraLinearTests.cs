// LoraLinear (the demo's LoRA baseline): forward and every gradient against a float64 oracle written from the formula,
// the oracle against finite differences, and PEFT's initialisation (lora_A in U(-1/sqrt(n), 1/sqrt(n)), lora_B zero).
using Sara.Native.Autograd;
using Sara.Native.Layers;
using Sara.Tests.Support;

namespace Sara.Tests.Layers;

public sealed class LoraLinearTests
{
    /// <summary>Float64 LoRA layer: Y = X W0^T + b + s (X A^T) B^T, A r x n, B m x r; and its gradients for dL/dY = G.</summary>
    private sealed class LoraOracle(int t, int n, int m, int r)
    {
        public double[] X = [], W0 = [], Bias = [], A = [], B = [];
        public double S = 1;

        public double[] Forward()
        {
            var y = Oracle.AddRowVector(Oracle.MatMul(X, t, n, false, W0, m, n, true), t, m, Bias);
            var h = Oracle.MatMul(X, t, n, false, A, r, n, true);
            return Oracle.Add(y, Oracle.MatMul(h, t, r, false, B, m, r, true), S);
        }

        public (double[] dX, double[] dA, double[] dB, double[] dBias) Backward(double[] g)
        {
            var h = Oracle.MatMul(X, t, n, false, A, r, n, true);
            var dB = Array.ConvertAll(Oracle.MatMul(g, t, m, true, h, t, r, false), v => S * v);
            var dh = Array.ConvertAll(Oracle.MatMul(g, t, m, false, B, m, r, false), v => S * v);
            var dA = Oracle.MatMul(dh, t, r, true, X, t, n, false);
            var dX = Oracle.Add(Oracle.MatMul(g, t, m, false, W0, m, n, false), Oracle.MatMul(dh, t, r, false, A, r, n, false));
            return (dX, dA, dB, Oracle.ColumnSum(g, t, m));
        }

        public double Loss(double[] weights) => Forward().Zip(weights, (y, w) => y * w).Sum();
    }

    public static IEnumerable<TestCaseData> Cases() =>
        from d in TestDevices.Emulated
        from s in new[] { (T: 1, N: 7, M: 5, R: 1), (T: 13, N: 33, M: 17, R: 4), (T: 37, N: 129, M: 65, R: 12), (T: 20, N: 16, M: 8, R: 12) }
        select new TestCaseData(d, s.T, s.N, s.M, s.R).SetArgDisplayNames(d, $"T{s.T}", $"n{s.N}", $"m{s.M}", $"r{s.R}");

    [TestCaseSource(nameof(Cases))]
    public void ForwardAndGradientsMatchTheOracle(string device, int t, int n, int m, int r)
    {
        var rand = new Rand();
        using var backend = TestDevices.Create(device);
        float[] xs = rand.Normal(t * n), w0 = rand.Normal(m * n), bias = rand.Normal(m), a = rand.Normal(r * n), b = rand.Normal(m * r), g = rand.Normal(t * m);
        var options = new LoraOptions { Rank = r, Alpha = 3, TrainBias = true };
        var o = new LoraOracle(t, n, m, r) { X = Oracle.D(xs), W0 = Oracle.D(w0), Bias = Oracle.D(bias), A = Oracle.D(a), B = Oracle.D(b), S = options.Scaling };
        var abs = new LoraOracle(t, n, m, r)
        {
            X = Oracle.Abs(xs), W0 = Oracle.Abs(w0), Bias = Oracle.Abs(bias), A = Oracle.Abs(a), B = Oracle.Abs(b), S = options.Scaling,
        };
        using var layer = LoraLinear.FromFactors(backend, "l", w0, m, n, bias, a, b, options);
        var tape = new Tape();
        using var x = new Variable(backend.FromArray(xs, t, n), requiresGrad: true, "x");
        using var y = layer.Forward(tape, x);
        Oracle.AssertClose(y.Value.ToArray(), o.Forward(), abs.Forward(), 1e-5, "Y");
        using var seed = backend.FromArray(g, t, m);
        tape.Seed(y, seed);
        tape.Backward();
        var (dX, dA, dB, dBias) = o.Backward(Oracle.D(g));
        var absGrads = abs.Backward(Oracle.Abs(g));
        Oracle.AssertClose(x.Grad!.ToArray(), dX, absGrads.dX, 1e-5, "dX");
        Oracle.AssertClose(layer.LoraA.Grad!.ToArray(), dA, absGrads.dA, 1e-5, "dA (lora_A)");
        Oracle.AssertClose(layer.LoraB.Grad!.ToArray(), dB, absGrads.dB, 1e-5, "dB (lora_B)");
        Oracle.AssertClose(layer.Bias!.Grad!.ToArray(), dBias, absGrads.dBias, 1e-5, "dbias");
        Assert.That(layer.TrainableParameterCount, Is.EqualTo((long)r * (m + n) + m));
    }

    [Test]
    public void OracleGradientsMatchFiniteDifferences()
    {
        const int t = 5, n = 6, m = 4, r = 3;
        var rand = new Rand();
        var o = new LoraOracle(t, n, m, r)
        {
            X = Oracle.D(rand.Normal(t * n)), W0 = Oracle.D(rand.Normal(m * n)), Bias = Oracle.D(rand.Normal(m)),
            A = Oracle.D(rand.Normal(r * n)), B = Oracle.D(rand.Normal(m * r)), S = 0.7,
        };
        var weights = Oracle.D(rand.Normal(t * m));
        var (dX, dA, dB, dBias) = o.Backward(weights);
        foreach (var (name, p, grad) in new[] { ("X", o.X, dX), ("A", o.A, dA), ("B", o.B, dB), ("bias", o.Bias, dBias) })
            DenseAndLossGradientTests.AssertMatchesFiniteDifferences(v => { Array.Copy(v, p, p.Length); return o.Loss(weights); }, (double[])p.Clone(), grad, name);
    }

    [Test]
    public void PeftInitialisationStartsAtThePretrainedLayerAndIsSeeded()
    {
        const int t = 9, n = 48, m = 20;
        var rand = new Rand();
        using var backend = TestDevices.Create("cpu");
        var w0 = rand.Normal(m * n);
        var bias = rand.Normal(m);
        var options = new LoraOptions { Rank = 6, Seed = rand.Int(0, 1000) };
        using var layer = LoraLinear.FromPretrained(backend, "l", w0, m, n, bias, options);
        using var again = LoraLinear.FromPretrained(backend, "l", w0, m, n, bias, options);
        var a = layer.LoraA.Value.ToArray();
        Assert.That(layer.LoraB.Value.ToArray(), Is.All.EqualTo(0f), "lora_B starts at zero");
        var bound = 1 / Math.Sqrt(n); // kaiming_uniform_(a = sqrt(5)) on [r, n]: gain sqrt(2 / 6), bound gain * sqrt(3 / n)
        Assert.That(a, Is.All.InRange((float)-bound, (float)bound));
        Assert.That(a.Max() - a.Min(), Is.GreaterThan(1.5 * bound), "spread over the interval");
        Assert.That(again.LoraA.Value.ToArray(), Is.EqualTo(a), "the same seed draws the same lora_A");

        var xs = rand.Normal(t * n);
        using var x = new Variable(backend.FromArray(xs, t, n));
        var y = layer.Forward(new Tape(), x).Value.ToArray();
        var dense = Oracle.AddRowVector(Oracle.MatMul(Oracle.D(xs), t, n, false, Oracle.D(w0), m, n, true), t, m, Oracle.D(bias));
        Oracle.AssertClose(y, dense, 1e-6, "first forward = X W0^T + b");
    }
}
