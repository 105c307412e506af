using Sara.Native.Backends;
using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.Support;

namespace Sara.Tests.Routing;

/// <summary>Ties, determinism and router statistics of the routing ops, on the CPU backend and the emulator.</summary>
public class RoutingBehaviourTests
{
    // Tied logits: identical Wg rows and biases give bit-identical logits on every backend.
    [TestCase("cpu"), TestCase("emu")]
    public void TiedLogitsKeepTheLowerExpertIndex(string device)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        const int t = 5, e = 64, k = 48;
        var hs = r.Normal(t * k);
        var row = r.Normal(k, 0.05);
        var wgs = new float[e * k];
        for (var x = 0; x < e; x++) Array.Copy(row, 0, wgs, x * k, k);   // every logit equal...
        var bgs = new float[e];
        bgs[40] = bgs[10] = bgs[50] = 3f;                                 // ...except a three-way tie on top (10, 40, 50)
        var lams = r.Normal(e * k);
        using var h = backend.FromArray(hs, t, k);
        using var wg = backend.FromArray(wgs, e, k);
        using var bg = backend.FromArray(bgs, e);
        using var lambdas = backend.FromArray(lams, e, k);
        using var gates = Poison.Tensor(backend, t, e);
        using var lamEff = Poison.Tensor(backend, t, k);
        using var z = Poison.Tensor(backend, t, k);

        foreach (var (topK, kept) in new[] { (1, new[] { 10 }), (2, [10, 40]), (3, [10, 40, 50]), (5, [0, 1, 10, 40, 50]) })
        {
            backend.RoutingForward(h, wg, bg, lambdas, topK, gates, lamEff, z);
            var g = gates.ToArray();
            for (var row0 = 0; row0 < t; row0++)
            {
                var got = Enumerable.Range(0, e).Where(x => g[row0 * e + x] != 0f).ToArray();
                Assert.That(got, Is.EqualTo(kept), $"topK={topK}, token {row0}: kept experts");
            }
            var want = RoutingOracle.Run(Oracle.D(hs), Oracle.D(wgs), Oracle.D(bgs), Oracle.D(lams), t, e, k, topK);
            Oracle.AssertClose(g, want.Gates, 1e-5, $"gates topK={topK}");
            Oracle.AssertClose(z.ToArray(), want.Z, 1e-5, $"Z topK={topK}");
            var stats = backend.RouterStatistics(gates);
            Assert.That(stats.TopFraction[10], Is.EqualTo(1f), "equal top gates: the lower index is the top expert");
        }
    }

    [TestCase("cpu"), TestCase("emu")]
    public void TwoRunsGiveIdenticalBits(string device)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        const int t = 300, e = 16, k = 64, topK = 4;   // several chunks and token blocks
        var x = RouterInputs.Draw(r, t, e, k, topK);
        using var h = backend.FromArray(x.H, t, k);
        using var wg = backend.FromArray(x.Wg, e, k);
        using var bg = backend.FromArray(x.Bg, e);
        using var lambdas = backend.FromArray(x.Lambda, e, k);
        using var dz = backend.FromArray(r.Normal(t * k), t, k);

        float[][] RunOnce()
        {
            using var gates = Poison.Tensor(backend, t, e);
            using var lamEff = Poison.Tensor(backend, t, k);
            using var z = Poison.Tensor(backend, t, k);
            using var dh = Poison.Tensor(backend, t, k);
            using var dLambdas = Poison.Tensor(backend, e, k);
            using var dWg = Poison.Tensor(backend, e, k);
            using var dbg = Poison.Tensor(backend, e);
            backend.RoutingForward(h, wg, bg, lambdas, topK, gates, lamEff, z);
            backend.RoutingBackward(dz, h, wg, lambdas, gates, lamEff, topK, 0.3f, dh, dLambdas, dWg, dbg);
            var s = backend.RouterStatistics(gates);
            return [gates.ToArray(), lamEff.ToArray(), z.ToArray(), dh.ToArray(), dLambdas.ToArray(), dWg.ToArray(), dbg.ToArray(), s.TopFraction, s.MeanGate];
        }

        var a = RunOnce();
        var b = RunOnce();
        string[] names = ["gates", "lamEff", "Z", "dH", "dLambda", "dWg", "dbg", "TopFraction", "MeanGate"];
        for (var i = 0; i < a.Length; i++)
            Assert.That(Bits(b[i]), Is.EqualTo(Bits(a[i])), $"{names[i]} differs between two runs");
    }

    private static int[] Bits(float[] v) => Array.ConvertAll(v, BitConverter.SingleToInt32Bits);

    [TestCase("cpu"), TestCase("emu")]
    public void RouterStatisticsMatchOracle(string device)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        const int t = 333, e = 37;
        // Random rows of positive gates summing to 1, some rows with exact ties on top.
        var gs = r.Uniform((long)t * e, 0, 1);
        for (var row = 0; row < t; row++)
        {
            if (row % 7 == 0) gs[row * e + 3] = gs[row * e + 30] = 2f;
            var sum = gs.AsSpan(row * e, e).ToArray().Sum();
            for (var x = 0; x < e; x++) gs[row * e + x] /= sum;
        }
        using var gates = backend.FromArray(gs, t, e);
        var stats = backend.RouterStatistics(gates);
        var (counts, sums) = RoutingOracle.Counts(Oracle.D(gs), t, e);
        Oracle.AssertClose(stats.TopFraction, Array.ConvertAll(counts, c => c / t), 1e-6, "TopFraction");
        Oracle.AssertClose(stats.MeanGate, Array.ConvertAll(sums, s => s / t), 1e-6, "MeanGate");
        Assert.That(stats.TopFraction.Sum(), Is.EqualTo(1f).Within(1e-5));
        double loss = 0;
        for (var x = 0; x < e; x++) loss += 0.01 * e * counts[x] / t * sums[x] / t;
        Assert.That(stats.BalanceLoss(0.01f), Is.EqualTo(loss).Within(1e-6 * loss));

        using var empty = backend.Empty(0, e);
        var none = backend.RouterStatistics(empty);
        Assert.That(none.TopFraction, Is.EqualTo(new float[e]));
    }

    [TestCase("cpu"), TestCase("emu")]
    public void EmptyBatchGivesZeroParameterGradients(string device)
    {
        using var backend = TestDevices.Create(device);
        const int e = 3, k = 4;
        var r = new Rand();
        using var h = backend.Empty(0, k);
        using var wg = backend.FromArray(r.Normal(e * k), e, k);
        using var lambdas = backend.FromArray(r.Normal(e * k), e, k);
        using var gates = backend.Empty(0, e);
        using var lamEff = backend.Empty(0, k);
        using var dLambdas = Poison.Tensor(backend, e, k);
        using var dWg = Poison.Tensor(backend, e, k);
        using var dbg = Poison.Tensor(backend, e);
        backend.RoutingBackward(h, h, wg, lambdas, gates, lamEff, 0, 0.5f, lamEff, dLambdas, dWg, dbg);
        Assert.That(dLambdas.ToArray(), Is.All.EqualTo(0f));
        Assert.That(dWg.ToArray(), Is.All.EqualTo(0f));
        Assert.That(dbg.ToArray(), Is.All.EqualTo(0f));
    }
}
