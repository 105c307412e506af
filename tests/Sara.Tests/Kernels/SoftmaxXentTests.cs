using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.Support;

namespace Sara.Tests.Kernels;

/// <summary>
/// The one-read softmax cross-entropy (kernels/losses.cu: an online maximum and sum per lane, merged across the warp) on
/// rows where the running maximum keeps rising, rows of huge logits (exp would overflow without the rescaling), rows
/// shorter than a warp and long rows, against a float64 oracle; and the same bits run after run.
/// </summary>
public class SoftmaxXentTests
{
    [TestCase(1), TestCase(5), TestCase(33), TestCase(1000)]
    public void Loss_and_gradient_match_float64_on_hard_rows(int c)
    {
        using var backend = TestDevices.Create("emu");
        var r = new Rand();
        const int t = 24;
        var x = r.Normal((long)t * c);
        for (var j = 0; j < c; j++)
        {
            x[0 * c + j] = j;                      // increasing: every element is a new maximum
            x[1 * c + j] = c - j;                  // decreasing
            x[2 * c + j] = 80f * x[3 * c + j];     // exp(80) overflows float32 without the max shift
            x[4 * c + j] = -1e30f;                 // all equal and hugely negative
        }
        var labels = Enumerable.Range(0, t).Select(_ => r.Int(0, c)).ToArray();
        using var logits = backend.FromArray(x, t, c);
        using var grad = Poison.Tensor(backend, t, c);
        var loss = backend.SoftmaxCrossEntropy(logits, labels, grad);

        var wantGrad = new double[x.Length];
        double wantLoss = 0;
        for (var i = 0; i < t; i++)
        {
            var max = Enumerable.Range(0, c).Max(j => (double)x[i * c + j]);
            var se = Enumerable.Range(0, c).Sum(j => Math.Exp(x[i * c + j] - max));
            for (var j = 0; j < c; j++) wantGrad[i * c + j] = (Math.Exp(x[i * c + j] - max) / se - (j == labels[i] ? 1 : 0)) / t;
            wantLoss += Math.Log(se) + max - x[i * c + labels[i]];
        }
        wantLoss /= t;
        Assert.That(Math.Abs(loss - wantLoss) / Math.Max(wantLoss, 1e-12), Is.Not.NaN.And.LessThan(1e-5), $"loss {loss} vs {wantLoss}");
        var first = grad.ToArray();
        Oracle.AssertClose(first, wantGrad, 1e-5, "gradient");
        backend.Fill(grad, float.NaN);
        Assert.That(backend.SoftmaxCrossEntropy(logits, labels, grad), Is.EqualTo(loss), "same loss bits");
        Assert.That(RankProductTests.Bits(grad.ToArray()), Is.EqualTo(RankProductTests.Bits(first)), "same gradient bits");
    }
}
