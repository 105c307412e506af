using Sara.Native.Autograd;
using Sara.Native.Layers;
using Sara.Native.Tensors;
using Sara.Tests.Support;

namespace Sara.Tests.Layers;

/// <summary>
/// Gradients through the tape of the ops every model uses besides the adapters: softmax cross-entropy (also with logits
/// far beyond float32's exp range), ReLU, and the dense <see cref="Linear"/> layer used twice in one step (so its
/// gradients accumulate). Each float64 oracle is checked against central finite differences first.
/// </summary>
public class DenseAndLossGradientTests
{
    private static IEnumerable<TestCaseData> Devices(params object[] extra) =>
        TestDevices.All.Select(d => new TestCaseData([d, .. extra]).SetArgDisplayNames([d, .. extra.Select(e => e.ToString()!)]))
            .Select(c => Equals(c.Arguments[0], "cuda") ? c.SetCategory("gpu") : c);

    // ---- softmax cross-entropy ------------------------------------------------------------------------------------

    /// <summary>Mean over rows of logsumexp(x_r) - x_r[y_r], with the max subtracted first (stable for any logits).</summary>
    private static double CrossEntropy(double[] x, int[] labels, int rows, int cols)
    {
        double loss = 0;
        for (var r = 0; r < rows; r++)
        {
            var row = x.AsSpan(r * cols, cols);
            var max = double.NegativeInfinity;
            foreach (var v in row) max = Math.Max(max, v);
            double se = 0;
            foreach (var v in row) se += Math.Exp(v - max);
            loss += Math.Log(se) + max - row[labels[r]];
        }
        return loss / rows;
    }

    /// <summary>(softmax(x_r) - onehot(y_r)) / rows.</summary>
    private static double[] CrossEntropyGrad(double[] x, int[] labels, int rows, int cols)
    {
        var g = new double[x.Length];
        for (var r = 0; r < rows; r++)
        {
            var max = Enumerable.Range(0, cols).Max(c => x[r * cols + c]);
            var se = Enumerable.Range(0, cols).Sum(c => Math.Exp(x[r * cols + c] - max));
            for (var c = 0; c < cols; c++) g[r * cols + c] = (Math.Exp(x[r * cols + c] - max) / se - (c == labels[r] ? 1 : 0)) / rows;
        }
        return g;
    }

    [TestCase(1.0), TestCase(1000.0)]
    public void CrossEntropyOracleMatchesFiniteDifferences(double scale)
    {
        var r = new Rand();
        const int rows = 4, cols = 6;
        var x = Oracle.D(r.Normal(rows * cols)).Select(v => scale * v).ToArray();
        var labels = Enumerable.Range(0, rows).Select(_ => r.Int(0, cols)).ToArray();
        AssertMatchesFiniteDifferences(p => CrossEntropy(p, labels, rows, cols), x, CrossEntropyGrad(x, labels, rows, cols), "logits");
    }

    public static IEnumerable<TestCaseData> CrossEntropyCases() => Devices(1.0).Concat(Devices(1000.0));

    [TestCaseSource(nameof(CrossEntropyCases))]
    public void CrossEntropyGradientThroughTheTape(string device, double scale)
    {
        // scale 1000: logits of +-thousands, where exp overflows float32 unless the row maximum is subtracted first.
        using var backend = TestDevices.Create(device);
        using var scope = new TensorScope();
        var r = new Rand();
        const int rows = 37, cols = 10;
        var xs = r.Normal(rows * cols, scale);
        var labels = Enumerable.Range(0, rows).Select(_ => r.Int(0, cols)).ToArray();
        var x = new Variable(backend.FromArray(xs, rows, cols), requiresGrad: true);
        var tape = new Tape();
        var loss = Losses.SoftmaxCrossEntropy(tape, x, labels);
        tape.Backward();
        var want = CrossEntropy(Oracle.D(xs), labels, rows, cols);
        Assert.That(Math.Abs(loss - want) / want, Is.Not.NaN.And.LessThan(1e-5), $"loss {loss} vs float64 {want}");
        Oracle.AssertClose(x.Grad!.ToArray(), CrossEntropyGrad(Oracle.D(xs), labels, rows, cols), 1e-5, "dLoss/dLogits");
    }

    // ---- ReLU ---------------------------------------------------------------------------------------------------------

    /// <summary>Inputs at least 0.05 from ReLU's kink, so finite differences never straddle it.</summary>
    private static float[] AwayFromZero(Rand r, int count) => r.Normal(count).Select(v => v + (v >= 0 ? 0.05f : -0.05f)).ToArray();

    private static double MseOfRelu(double[] x, double[] t) => x.Select((v, i) => Math.Pow(Math.Max(v, 0) - t[i], 2)).Sum() / x.Length;

    private static double[] MseOfReluGrad(double[] x, double[] t) =>
        x.Select((v, i) => v > 0 ? 2 * (v - t[i]) / x.Length : 0).ToArray();

    [Test]
    public void ReluOracleMatchesFiniteDifferences()
    {
        var r = new Rand();
        var x = Oracle.D(AwayFromZero(r, 30));
        var t = Oracle.D(r.Normal(30));
        AssertMatchesFiniteDifferences(p => MseOfRelu(p, t), x, MseOfReluGrad(x, t), "x");
    }

    [TestCaseSource(nameof(DevicesOnly))]
    public void ReluGradientThroughTheTape(string device)
    {
        using var backend = TestDevices.Create(device);
        using var scope = new TensorScope();
        var r = new Rand();
        const int rows = 33, cols = 17;
        var xs = AwayFromZero(r, rows * cols);
        var ts = r.Normal(rows * cols);
        var x = new Variable(backend.FromArray(xs, rows, cols), requiresGrad: true);
        var tape = new Tape();
        var y = Activations.Relu(tape, x);
        Losses.Mse(tape, y, backend.FromArray(ts, rows, cols));
        tape.Backward();
        Oracle.AssertClose(x.Grad!.ToArray(), MseOfReluGrad(Oracle.D(xs), Oracle.D(ts)), 1e-6, "dLoss/dx");
    }

    public static IEnumerable<TestCaseData> DevicesOnly() => Devices();

    // ---- dense Linear, used twice in one step ----------------------------------------------------------------------

    /// <summary>Loss = MSE(X1 W^T + b, T1) + MSE(X2 W^T + b, T2), and its gradients in W, b and X1.</summary>
    private sealed class TwoUseOracle(int t, int n, int m)
    {
        public double[] W = [], B = [], X1 = [], X2 = [], T1 = [], T2 = [];

        private double[] Y(double[] x) => Oracle.AddRowVector(Oracle.MatMul(x, t, n, false, W, m, n, true), t, m, B);

        public double Loss() =>
            Y(X1).Select((v, i) => (v - T1[i]) * (v - T1[i])).Sum() / (t * m) + Y(X2).Select((v, i) => (v - T2[i]) * (v - T2[i])).Sum() / (t * m);

        public (double[] DW, double[] DB, double[] DX1) Gradients()
        {
            var g1 = Y(X1).Select((v, i) => 2 * (v - T1[i]) / (t * m)).ToArray();
            var g2 = Y(X2).Select((v, i) => 2 * (v - T2[i]) / (t * m)).ToArray();
            var dw = Oracle.Add(Oracle.MatMul(g1, t, m, true, X1, t, n, false), Oracle.MatMul(g2, t, m, true, X2, t, n, false));
            var db = Oracle.Add(Oracle.ColumnSum(g1, t, m), Oracle.ColumnSum(g2, t, m));
            return (dw, db, Oracle.MatMul(g1, t, m, false, W, m, n, false));
        }
    }

    private static TwoUseOracle DrawTwoUse(Rand r, int t, int n, int m) => new(t, n, m)
    {
        W = Oracle.D(r.Normal(m * n)), B = Oracle.D(r.Normal(m)), X1 = Oracle.D(r.Normal(t * n)), X2 = Oracle.D(r.Normal(t * n)),
        T1 = Oracle.D(r.Normal(t * m)), T2 = Oracle.D(r.Normal(t * m)),
    };

    [Test]
    public void LinearOracleMatchesFiniteDifferences()
    {
        var o = DrawTwoUse(new Rand(), 5, 7, 4);
        var (dw, db, dx1) = o.Gradients();
        foreach (var (name, p, g) in new[] { ("W", o.W, dw), ("b", o.B, db), ("X1", o.X1, dx1) })
            AssertMatchesFiniteDifferences(v => { Array.Copy(v, p, p.Length); return o.Loss(); }, (double[])p.Clone(), g, name);
    }

    [TestCaseSource(nameof(DevicesOnly))]
    public void LinearBackwardAccumulatesOverTwoUses(string device)
    {
        using var backend = TestDevices.Create(device);
        using var scope = new TensorScope();
        const int t = 41, n = 70, m = 29;
        var o = DrawTwoUse(new Rand(), t, n, m);
        float[] F(double[] a) => Array.ConvertAll(a, v => (float)v);
        using var layer = new Linear(backend, F(o.W), m, n, F(o.B));
        var x1 = new Variable(backend.FromArray(F(o.X1), t, n), requiresGrad: true);
        var x2 = new Variable(backend.FromArray(F(o.X2), t, n));
        var tape = new Tape();
        Losses.Mse(tape, layer.Forward(tape, x1), backend.FromArray(F(o.T1), t, m));
        Losses.Mse(tape, layer.Forward(tape, x2), backend.FromArray(F(o.T2), t, m));
        tape.Backward();
        var (dw, db, dx1) = o.Gradients();
        Oracle.AssertClose(layer.Weight.Grad!.ToArray(), dw, 1e-5, "dW (both uses)");
        Oracle.AssertClose(layer.Bias!.Grad!.ToArray(), db, 1e-5, "db (both uses)");
        Oracle.AssertClose(x1.Grad!.ToArray(), dx1, 1e-5, "dX1");
        Assert.That(x2.Grad, Is.Null, "an input that needs no gradient gets none");
    }

    internal static void AssertMatchesFiniteDifferences(Func<double[], double> loss, double[] at, double[] analytic, string name)
    {
        var p = (double[])at.Clone();
        var fd = new double[p.Length];
        for (var i = 0; i < p.Length; i++)
        {
            var keep = p[i];
            var h = 1e-6 * Math.Max(1, Math.Abs(keep));
            p[i] = keep + h;
            var up = loss(p);
            p[i] = keep - h;
            var down = loss(p);
            p[i] = keep;
            fd[i] = (up - down) / (2 * h);
        }
        loss(p);   // leave any captured state at the original point
        var err = Oracle.RelErr(Array.ConvertAll(analytic, v => (float)v), fd);
        Assert.That(err, Is.Not.NaN.And.LessThan(1e-6), $"d/d{name}: finite differences disagree ({err:E2})");
    }
}
