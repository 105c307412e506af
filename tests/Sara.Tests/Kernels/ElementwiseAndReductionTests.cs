using Sara.Native.Backends;
using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.Support;

namespace Sara.Tests.Kernels;

/// <summary>Parity of the helper kernels (elementwise.cu, reduce.cu, losses.cu, adamw.cu) against float64 oracles.</summary>
public class ElementwiseAndReductionTests
{
    private static readonly (int Rows, int Cols)[] Shapes = [(1, 1), (1, 300), (37, 1), (65, 33), (257, 129), (1000, 7)];

    public static IEnumerable<TestCaseData> Cases() =>
        from d in TestDevices.Emulated from s in Shapes
        select new TestCaseData(d, s.Rows, s.Cols).SetArgDisplayNames(d, $"{s.Rows}x{s.Cols}");

    public static IEnumerable<TestCaseData> GpuCases() =>
        from s in Shapes select new TestCaseData("cuda", s.Rows, s.Cols).SetArgDisplayNames("cuda", $"{s.Rows}x{s.Cols}").SetCategory("gpu");

    [TestCaseSource(nameof(Cases)), TestCaseSource(nameof(GpuCases))]
    public void ColumnSumAddRowVectorScaleColumnsAxpby(string device, int rows, int cols)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        float[] xs = r.Normal(rows * cols), v = r.Normal(cols), ys = r.Normal(rows * cols), s0 = r.Normal(cols);
        using var x = backend.FromArray(xs, rows, cols);
        using var vec = backend.FromArray(v, cols);

        using var sum = Poison.Tensor(backend, cols);
        backend.ColumnSum(x, sum);
        // Column sums of random signs may cancel: judged against the sums of |x| (the float32 summation error scale).
        var absSum = Oracle.ColumnSum(Oracle.Abs(xs), rows, cols);
        Oracle.AssertClose(sum.ToArray(), Oracle.ColumnSum(Oracle.D(xs), rows, cols), absSum, 1e-5, "column sum");

        using var sumBeta = backend.FromArray(s0, cols);
        backend.ColumnSum(x, sumBeta, 0.5f);
        Oracle.AssertClose(sumBeta.ToArray(), Oracle.Add(Oracle.ColumnSum(Oracle.D(xs), rows, cols), Oracle.D(s0), 0.5),
            Oracle.Add(absSum, Oracle.Abs(s0), 0.5), 1e-5, "column sum with beta");

        using var y = backend.FromArray(ys, rows, cols);
        backend.AddRowVector(y, vec);
        Oracle.AssertClose(y.ToArray(), Oracle.AddRowVector(Oracle.D(ys), rows, cols, Oracle.D(v)), 1e-6, "add row vector");

        using var scaled = Poison.Tensor(backend, rows, cols);
        backend.ScaleColumns(x, vec, scaled);
        Oracle.AssertClose(scaled.ToArray(), Oracle.ScaleColumns(Oracle.D(xs), rows, cols, Oracle.D(v)), 1e-6, "scale columns");

        using var z = backend.FromArray(ys, rows, cols);
        backend.Axpby(0.3f, x, -1.5f, z);
        // The float32 coefficients (0.3f is not 0.3) and, where 0.3 x and 1.5 y cancel (a 1 x 1 case), the size of the
        // terms set the scale: judged against |0.3f x| + |1.5 y| (the floor of Oracle.AssertClose).
        var want = Oracle.D(ys).Select((yv, i) => (double)0.3f * xs[i] - 1.5 * yv).ToArray();
        var terms = Oracle.D(ys).Select((yv, i) => Math.Abs((double)0.3f * xs[i]) + Math.Abs(1.5 * yv)).ToArray();
        Oracle.AssertClose(z.ToArray(), want, terms, 1e-6, "axpby");

        using var w = Poison.Tensor(backend, rows, cols);
        backend.Axpby(2f, x, 0f, w);   // beta 0 must not read the poisoned output
        Oracle.AssertClose(w.ToArray(), Oracle.D(xs).Select(a => 2 * a).ToArray(), 1e-6, "axpby beta 0");
    }

    [TestCaseSource(nameof(Cases)), TestCaseSource(nameof(GpuCases))]
    public void ReluForwardAndBackward(string device, int rows, int cols)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        float[] xs = r.Normal(rows * cols), dys = r.Normal(rows * cols), dx0 = r.Normal(rows * cols);
        using var x = backend.FromArray(xs, rows, cols);
        using var y = Poison.Tensor(backend, rows, cols);
        backend.Relu(x, y);
        Oracle.AssertClose(y.ToArray(), xs.Select(v => Math.Max((double)v, 0)).ToArray(), 1e-7, "relu");
        using var dy = backend.FromArray(dys, rows, cols);
        using var dx = backend.FromArray(dx0, rows, cols);
        backend.ReluBackward(dy, y, dx, 1f);
        var want = xs.Select((v, i) => dx0[i] + (v > 0 ? (double)dys[i] : 0)).ToArray();
        Oracle.AssertClose(dx.ToArray(), want, 1e-6, "relu backward");
    }

    [TestCaseSource(nameof(Cases)), TestCaseSource(nameof(GpuCases))]
    public void MseAndSoftmaxCrossEntropy(string device, int rows, int cols)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        float[] ps = r.Normal(rows * cols), ts = r.Normal(rows * cols);
        using var p = backend.FromArray(ps, rows, cols);
        using var t = backend.FromArray(ts, rows, cols);
        using var g = Poison.Tensor(backend, rows, cols);
        var loss = backend.MseLoss(p, t, g);
        var n = (double)ps.Length;
        var wantLoss = ps.Select((v, i) => (v - (double)ts[i]) * (v - (double)ts[i])).Sum() / n;
        Assert.That(Math.Abs(loss - wantLoss) / wantLoss, Is.Not.NaN.And.LessThan(1e-5), "mse value");
        Oracle.AssertClose(g.ToArray(), ps.Select((v, i) => 2 * (v - (double)ts[i]) / n).ToArray(), 1e-6, "mse gradient");

        var labels = Enumerable.Range(0, rows).Select(_ => r.Int(0, cols)).ToArray();
        using var gl = Poison.Tensor(backend, rows, cols);
        var ce = backend.SoftmaxCrossEntropy(p, labels, gl);
        var (wantCe, wantGrad) = SoftmaxXentOracle(ps, labels, rows, cols);
        Assert.That(Math.Abs(ce - wantCe) / Math.Max(wantCe, 1e-12), Is.Not.NaN.And.LessThan(1e-5), $"cross-entropy value {ce} vs {wantCe}");
        Oracle.AssertClose(gl.ToArray(), wantGrad, 1e-5, "cross-entropy gradient");
    }

    private static (double Loss, double[] Grad) SoftmaxXentOracle(float[] x, int[] labels, int rows, int cols)
    {
        var grad = new double[x.Length];
        double loss = 0;
        for (var r = 0; r < rows; r++)
        {
            var max = Enumerable.Range(0, cols).Max(c => (double)x[r * cols + c]);
            var se = Enumerable.Range(0, cols).Sum(c => Math.Exp(x[r * cols + c] - max));
            for (var c = 0; c < cols; c++)
                grad[r * cols + c] = (Math.Exp(x[r * cols + c] - max) / se - (c == labels[r] ? 1 : 0)) / rows;
            loss += Math.Log(se) + max - x[r * cols + labels[r]];
        }
        return (loss / rows, grad);
    }

    [TestCase("cpu"), TestCase("emu"), TestCase("cuda", Category = "gpu")]
    public void AdamWStepsMatchOracle(string device)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        const int n = 1000;
        var o = new AdamWOptions(LearningRate: 0.01f, WeightDecay: 0.1f);
        double[] p = Oracle.D(r.Normal(n)), m = new double[n], v = new double[n];
        using var pt = backend.FromArray(Array.ConvertAll(p, d => (float)d), n);
        using var mt = backend.Zeros(n);
        using var vt = backend.Zeros(n);
        for (var step = 1; step <= 5; step++)
        {
            var g = r.Normal(n);
            using var gt = backend.FromArray(g, n);
            backend.AdamW(pt, gt, mt, vt, o, step);
            double bc1 = 1 - Math.Pow(o.Beta1, step), bc2 = 1 - Math.Pow(o.Beta2, step);
            for (var i = 0; i < n; i++)
            {
                m[i] = o.Beta1 * m[i] + (1 - o.Beta1) * g[i];
                v[i] = o.Beta2 * v[i] + (1 - o.Beta2) * g[i] * g[i];
                p[i] = p[i] * (1 - o.LearningRate * o.WeightDecay) - o.LearningRate * (m[i] / bc1) / (Math.Sqrt(v[i] / bc2) + o.Epsilon);
            }
        }
        Oracle.AssertClose(pt.ToArray(), p, 1e-5, "parameters after 5 AdamW steps");
        Oracle.AssertClose(mt.ToArray(), m, 1e-5, "first moment");
        Oracle.AssertClose(vt.ToArray(), v, 1e-5, "second moment");
    }

    [TestCase("cpu"), TestCase("emu"), TestCase("cuda", Category = "gpu")]
    public void GemmAllTransposeCombinations(string device)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        const int m = 37, n = 29, k = 41;
        foreach (var ta in new[] { false, true })
            foreach (var tb in new[] { false, true })
            {
                float[] a = r.Normal(m * k), b = r.Normal(k * n), c0 = r.Normal(m * n);
                using var at = ta ? backend.FromArray(a, k, m) : backend.FromArray(a, m, k);
                using var bt = tb ? backend.FromArray(b, n, k) : backend.FromArray(b, k, n);
                using var ct = backend.FromArray(c0, m, n);
                backend.Gemm(at, ta, bt, tb, ct, 0.5f, 2f);
                var prod = Oracle.MatMul(Oracle.D(a), ta ? k : m, ta ? m : k, ta, Oracle.D(b), tb ? n : k, tb ? k : n, tb);
                var want = prod.Select((pv, i) => 0.5 * pv + 2 * c0[i]).ToArray();
                Oracle.AssertClose(ct.ToArray(), want, 1e-5, $"gemm ta={ta} tb={tb}");
            }
    }
}
