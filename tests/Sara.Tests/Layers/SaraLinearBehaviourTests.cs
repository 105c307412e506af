using Sara.Native.Autograd;
using Sara.Native.Layers;
using Sara.Native.Optim;
using Sara.Native.Runtime;
using Sara.Native.Backends;
using Sara.Native.Tensors;
using Sara.Tests.Support;

namespace Sara.Tests.Layers;

/// <summary>SARA layer behaviour: exact start, determinism, learning, merge, memory.</summary>
public class SaraLinearBehaviourTests
{
    [TestCase("cpu"), TestCase("emu")]
    public void AtInitialisationOutputEqualsDenseBitForBit(string device)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        const int t = 33, n = 70, m = 45;
        float[] w0 = r.Normal(m * n), bias = r.Normal(m), xs = r.Normal(t * n);
        using var sara = SaraLinear.FromPretrained(backend, "l", w0, m, n, bias, new SaraOptions { FixedRank = 8 });
        using var dense = new Linear(backend, w0, m, n, bias);
        using var x = new Variable(backend.FromArray(xs, t, n));
        var tape = new Tape();
        using var ys = sara.Forward(tape, x);
        using var yd = dense.Forward(tape, x);
        Assert.That(ys.Value.ToArray(), Is.EqualTo(yd.Value.ToArray()).AsCollection, "bit-for-bit equal at lambda = 0");
    }

    [TestCase("cpu"), TestCase("emu")]
    public void TwoIdenticalTrainingRunsGiveIdenticalBits(string device)
    {
        using var backend = TestDevices.Create(device);
        var problem = new SaraTraining(seed: new Rand().Int(0, 1 << 30));
        var first = problem.Train(backend, 25);
        var second = problem.Train(backend, 25);
        Assert.That(second, Is.EqualTo(first).AsCollection);
    }

    // A fixed seed: the 100x drop is a convergence threshold, and over seeds 1..200 (cpu, 150 steps) the drop ranged from
    // 176x to ~10^6x (median 4.4e5x), so a fresh seed would fail now and then for no fault of the code. Seed 7: ~1e5x.
    private const int LearningSeed = 7;

    [Test]
    public void LearnsATopKChangeOnBothBackendsWithAgreeingLossCurves()
    {
        var problem = new SaraTraining(seed: LearningSeed);
        const int steps = 150;
        float[] cpu, emu;
        using (var b = TestDevices.Create("cpu")) cpu = problem.Train(b, steps);
        using (var b = TestDevices.Create("emu")) emu = problem.Train(b, steps);
        TestContext.Out.WriteLine($"loss: start {cpu[0]:E3}, end cpu {cpu[^1]:E3} / emu {emu[^1]:E3} after {steps} AdamW steps");
        Assert.That(cpu[^1], Is.Not.NaN.And.LessThan(cpu[0] / 100), "cpu loss must drop 100x");
        Assert.That(emu[^1], Is.Not.NaN.And.LessThan(emu[0] / 100), "emu loss must drop 100x");
        // Compared like every other output here: relative norm error of the whole curve (the late, tiny losses carry
        // float32 noise from the two SVD paths - LAPACK on the CPU, the float64 Gram and Dsyevd on the emulator - so the
        // pointwise ratio is printed, not asserted).
        var curveErr = Oracle.RelErr(emu, Oracle.D(cpu));
        var maxRel = cpu.Zip(emu, (a, b) => Math.Abs(a - b) / Math.Max(Math.Abs(a), 1e-30)).Max();
        TestContext.Out.WriteLine($"loss curves: relative norm difference {curveErr:E2}; largest pointwise relative difference {maxRel:E2}");
        Assert.That(curveErr, Is.Not.NaN.And.LessThan(1e-4));
    }

    [TestCase("cpu"), TestCase("emu")]
    public void MergeMatchesAdapterAndUnmergeRestoresW0(string device)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        const int t = 20, n = 50, m = 30, k = 7;
        float[] w0 = r.Normal(m * n), bias = r.Normal(m), xs = r.Normal(t * n);
        using var layer = SaraLinear.FromFactors(backend, "l", w0, m, n, bias, r.Normal(m * k, 0.3), r.Normal(k * n, 0.3), k,
            r.Normal(k), new SaraOptions { Scale = 0.8f });
        using var x = new Variable(backend.FromArray(xs, t, n));
        var tape = new Tape();
        var adapter = layer.Forward(tape, x).Value.ToArray();
        layer.Merge();
        var merged = layer.Forward(tape, x).Value.ToArray();
        Oracle.AssertClose(merged, Oracle.D(adapter), 1e-5, "merged dense output vs adapter output");
        layer.Unmerge();
        Oracle.AssertClose(layer.W0.ToArray(), Oracle.D(w0), 1e-6, "W0 after merge + unmerge");
        Assert.Throws<InvalidOperationException>(layer.Unmerge);
    }

    [TestCase("cpu"), TestCase("emu")]
    public void NoMemoryGrowthOver1000Steps(string device)
    {
        using var backend = TestDevices.Create(device);
        var problem = new SaraTraining(seed: 7, t: 16, n: 24, m: 20, k: 3);
        using var layer = SaraLinear.FromPretrained(backend, "l", problem.W0, problem.M, problem.N, null,
            new SaraOptions { FixedRank = problem.K, OrthogonalityWeight = 1e-3f });
        using var opt = new AdamW(layer.Parameters, new AdamWOptions(LearningRate: 1e-3f));
        using var x = new Variable(backend.FromArray(problem.X, problem.T, problem.N));
        using var target = backend.FromArray(problem.Target, problem.T, problem.M);
        MemoryStats afterWarmup = default;
        for (var i = 0; i < 1000; i++)
        {
            using (var scope = new TensorScope())
            {
                var tape = new Tape();
                var y = layer.Forward(tape, x);
                Losses.Mse(tape, y, target);
                layer.OrthogonalityPenalty(tape);
                tape.Backward();
                opt.Step(tape);
            }
            if (i == 9) afterWarmup = backend.Memory;
        }
        var end = backend.Memory;
        TestContext.Out.WriteLine($"after warm-up: {afterWarmup}; after 1000 steps: {end}");
        Assert.That(end.BytesInUse, Is.EqualTo(afterWarmup.BytesInUse), "bytes in use");
        Assert.That(end.RawAllocations, Is.EqualTo(afterWarmup.RawAllocations), "raw allocations after warm-up");
    }

    [TestCase("cpu"), TestCase("emu")]
    public void OrthogonalityPenaltyMatchesOracle(string device)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        const int m = 12, n = 15, k = 4;
        float gamma = 0.3f;
        float[] a = r.Normal(m * k, 0.5), b = r.Normal(k * n, 0.5);
        using var layer = SaraLinear.FromFactors(backend, "l", r.Normal(m * n), m, n, null, a, b, k, null,
            new SaraOptions { OrthogonalityWeight = gamma });
        var tape = new Tape();
        var value = layer.OrthogonalityPenalty(tape);

        var ad = Oracle.D(a);
        var bd = Oracle.D(b);
        var ma = Oracle.MatMul(ad, m, k, true, ad, m, k, false);
        var mb = Oracle.MatMul(bd, k, n, false, bd, k, n, true);
        for (var i = 0; i < k; i++) { ma[i * k + i] -= 1; mb[i * k + i] -= 1; }
        var want = gamma * (ma.Sum(v => v * v) + mb.Sum(v => v * v));
        Assert.That(Math.Abs(value - want) / want, Is.Not.NaN.And.LessThan(1e-5), $"penalty {value} vs {want}");
        var da = Oracle.MatMul(ad, m, k, false, ma, k, k, false).Select(v => 4 * gamma * v).ToArray();
        var db = Oracle.MatMul(mb, k, k, false, bd, k, n, false).Select(v => 4 * gamma * v).ToArray();
        Oracle.AssertClose(layer.A.Grad!.ToArray(), da, 1e-5, "dR/dA");
        Oracle.AssertClose(layer.B.Grad!.ToArray(), db, 1e-5, "dR/dB");
    }

    [Test]
    public void BadOptionsAndShapesAreClearErrors()
    {
        using var backend = TestDevices.Create("cpu");
        var w = new Rand().Normal(12);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SaraLinear.FromFactors(backend, "q_proj", w, 3, 4, null, new float[15], new float[20], 5));
        Assert.That(e!.Message, Does.Contain("q_proj"));
        var bad = (float[])w.Clone();
        bad[3] = float.NaN;
        var e2 = Assert.Throws<ArgumentException>(() => SaraLinear.FromPretrained(backend, "v_proj", bad, 3, 4));
        Assert.That(e2!.Message, Does.Contain("v_proj"));
        Assert.Throws<ArgumentException>(() => SaraLinear.FromFactors(backend, "l", w, 3, 4, null, new float[5], new float[8], 2));
    }
}
