using Sara.Native.Svd;
using Sara.Tests.Support;

namespace Sara.Tests.Svd;

/// <summary>Rank choice (DESIGN 1.1) on hand-computed spectra, argument errors, and the plan's table/JSON/edit round trip.</summary>
public class RankPlannerTests
{
    private static int Choose(float[] s, double total, RankOptions o, out double reached) => RankPlanner.ChooseRank(s, total, o, out reached);

    [Test]
    public void SumFractionHandCases()
    {
        float[] s = [4, 3, 2, 1];   // total 10; cumulative 4, 7, 9, 10
        var o = new RankOptions(RankCriterion.SumFraction, 0.5, KMin: 1, KMax: 10);
        Assert.That(Choose(s, 10, o, out var f), Is.EqualTo(2));           // 7 >= 5
        Assert.That(f, Is.EqualTo(0.7).Within(1e-12));
        Assert.That(Choose(s, 10, o with { Tau = 0.4 }, out f), Is.EqualTo(1));   // tie: 4 >= 4 reaches at k = 1
        Assert.That(f, Is.EqualTo(0.4).Within(1e-12));
        Assert.That(Choose(s, 10, o with { Tau = 0.7 }, out _), Is.EqualTo(2));   // tie at 7
        Assert.That(Choose(s, 10, o with { Tau = 0.71 }, out _), Is.EqualTo(3));
        Assert.That(Choose(s, 10, o with { Tau = 0.3 }, out _), Is.EqualTo(1));   // 0.3 * 10 rounds above 3 in float64: still k = 1
        Assert.That(Choose(s, 10, o with { Tau = 1 }, out f), Is.EqualTo(4));
        Assert.That(f, Is.EqualTo(1.0));
    }

    [Test]
    public void EqualSingularValuesAndEnergyHandCases()
    {
        float[] flat = [1, 1, 1, 1];
        var o = new RankOptions(RankCriterion.SumFraction, 0.5, KMin: 1, KMax: 10);
        Assert.That(Choose(flat, 4, o, out _), Is.EqualTo(2));               // exact tie 2 >= 2
        Assert.That(Choose(flat, 4, o with { Tau = 0.51 }, out _), Is.EqualTo(3));
        float[] s = [3, 2, 1];   // energies 9, 4, 1: total 14 (||W||_F^2 of a 3-value spectrum)
        var e = o with { Criterion = RankCriterion.EnergyFraction };
        Assert.That(Choose(s, 14, e with { Tau = 9.0 / 14 }, out var f), Is.EqualTo(1));
        Assert.That(f, Is.EqualTo(9.0 / 14).Within(1e-12));
        Assert.That(Choose(s, 14, e with { Tau = 0.9 }, out f), Is.EqualTo(2));  // 13/14 = 0.929
        Assert.That(f, Is.EqualTo(13.0 / 14).Within(1e-12));
        // Only the leading 2 values known (KMax = 2) and tau not reached: k = 3 before the clamp, then KMax.
        Assert.That(Choose([3, 2], 14, e with { Tau = 0.95, KMax = 2 }, out f), Is.EqualTo(2));
        Assert.That(f, Is.EqualTo(13.0 / 14).Within(1e-12));
    }

    [Test]
    public void ClampsToKMinKMaxAndCount()
    {
        float[] s = [10, 1, 1, 1, 1, 1, 1, 1, 1, 1];   // total 19: tau 0.5 reached at k = 1
        var o = new RankOptions(RankCriterion.SumFraction, 0.5, KMin: 3, KMax: 8);
        Assert.That(Choose(s, 19, o, out var f), Is.EqualTo(3));
        Assert.That(f, Is.EqualTo(12.0 / 19).Within(1e-12));
        Assert.That(Choose(s, 19, o with { Tau = 0.99 }, out f), Is.EqualTo(8));   // raw k = 10
        Assert.That(f, Is.EqualTo(17.0 / 19).Within(1e-12));
        Assert.That(Choose([5, 4], 9, o, out _), Is.EqualTo(2), "KMin beyond the spectrum clamps to r");
        Assert.That(Choose([0, 0, 0], 0, o, out f), Is.EqualTo(3), "zero matrix: reached at 1, then KMin");
        Assert.That(f, Is.EqualTo(1.0));
    }

    [TestCase(0.0), TestCase(-0.1), TestCase(1.0000001), TestCase(double.NaN), TestCase(double.PositiveInfinity)]
    public void TauOutsideRangeIsRejected(double tau)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Choose([1], 1, new RankOptions(Tau: tau), out _));
        Assert.That(e!.ParamName, Is.EqualTo("Tau"));
    }

    [Test]
    public void BadOptionsAndSpectraAreRejected()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => new RankOptions(KMin: 9, KMax: 8).Validate())!.ParamName, Is.EqualTo("KMin"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new RankOptions(KMin: 0).Validate())!.ParamName, Is.EqualTo("KMin"));
        var o = new RankOptions();
        Assert.That(Assert.Throws<ArgumentException>(() => Choose([1, 2], 3, o, out _))!.Message, Does.Contain("descending"));
        Assert.That(Assert.Throws<ArgumentException>(() => Choose([float.NaN], 1, o, out _))!.ParamName, Is.EqualTo("singularValuesDescending"));
        Assert.That(Assert.Throws<ArgumentException>(() => Choose([], 1, o, out _))!.ParamName, Is.EqualTo("singularValuesDescending"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => Choose([1], double.NaN, o, out _))!.ParamName, Is.EqualTo("totalForCriterion"));
    }

    [TestCase("cpu", RankCriterion.SumFraction), TestCase("cpu", RankCriterion.EnergyFraction),
     TestCase("emu", RankCriterion.SumFraction), TestCase("emu", RankCriterion.EnergyFraction)]
    public void ForMatrixMatchesTheFloat64Spectrum(string device, RankCriterion criterion)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        const int m = 160, n = 96;
        var data = r.Normal((long)m * n);
        using var w = backend.FromArray(data, m, n);
        var options = new RankOptions(criterion, 0.6, KMin: 2, KMax: 80) { PowerIterations = 4, Oversampling = 16 };
        var layer = RankPlanner.ForMatrix(backend, "blocks.0.attn.q", w, options);

        var s = SubspaceError.SingularValues(Oracle.D(data), m, n);
        var energy = criterion == RankCriterion.EnergyFraction;
        var values = s.Select(x => energy ? x * x : x).ToArray();
        var total = energy ? data.Sum(x => (double)x * x) : values.Sum();
        var k = 1;
        for (double cum = values[0]; cum < 0.6 * total; cum += values[k++]) { }
        // s is the tests' own float64 Jacobi of the stored matrix (not LAPACK, which the cpu backend's exact path uses).
        Assert.That(layer.K, Is.EqualTo(Math.Clamp(k, 2, 80)).Within(1), "k within one of the float64 answer");
        Assert.That(layer.FractionReached, Is.EqualTo(values.Take(layer.K).Sum() / total).Within(1e-3));
        Assert.That(layer.Spectrum.Largest, Is.EqualTo(s[0]).Within(1e-4 * s[0]));
        Assert.That(layer.Spectrum.Known, Is.EqualTo(energy ? 80 : 96));
        Assert.That((layer.Layer, layer.Rows, layer.Cols), Is.EqualTo(("blocks.0.attn.q", m, n)));
    }

    [TestCase("cpu", RankCriterion.SumFraction), TestCase("cpu", RankCriterion.EnergyFraction),
     TestCase("emu", RankCriterion.SumFraction), TestCase("emu", RankCriterion.EnergyFraction)]
    public void ForMatrixReachesTheFractionOfAKnownSpectrum(string device, RankCriterion criterion)
    {
        // W = U diag(s) V^T with s known (orthonormal factors from Gram–Schmidt, no SVD): the expected k and fraction are
        // float64 sums over s alone, independent of every SVD in the code and in the tests.
        using var backend = TestDevices.Create(device);
        const int m = 160, n = 96;
        var s = Enumerable.Range(1, n).Select(i => 4.0 * Math.Pow(i, -1.2)).ToArray();
        var (w, _, _) = SvdTestMatrices.WithSpectrum(m, n, s, new Rand().Int(0, int.MaxValue / 2));
        using var wt = backend.FromArray(w, m, n);
        var energy = criterion == RankCriterion.EnergyFraction;
        var values = s.Select(x => energy ? x * x : x).ToArray();
        var total = values.Sum();
        // A tau halfway between two cumulative fractions, so float32 storage (~1e-7 relative) cannot move the answer.
        var cumulative = values.Select((_, i) => values.Take(i + 1).Sum() / total).ToArray();
        var wantK = Array.FindIndex(cumulative, c => c > (energy ? 0.9 : 0.6)) + 1;
        Assert.That(wantK, Is.InRange(2, 80), "a k with a cumulative fraction on either side");
        var tau = (cumulative[wantK - 2] + cumulative[wantK - 1]) / 2;
        var options = new RankOptions(criterion, tau, KMin: 1, KMax: 80) { PowerIterations = 6, Oversampling = 16 };

        var layer = RankPlanner.ForMatrix(backend, "q", wt, options);
        TestContext.Out.WriteLine($"{criterion}: tau {tau:F6}, k {layer.K} (want {wantK}), fraction {layer.FractionReached:F7} (want {cumulative[wantK - 1]:F7})");
        Assert.That(layer.K, Is.EqualTo(wantK));
        Assert.That(layer.FractionReached, Is.EqualTo(cumulative[wantK - 1]).Within(1e-5));
    }

    [TestCase("cpu"), TestCase("emu")]
    public void NonFiniteWeightNamesTheLayer(string device)
    {
        using var backend = TestDevices.Create(device);
        var data = new Rand().Normal(12 * 8);
        data[17] = float.NaN;
        using var w = backend.FromArray(data, 12, 8);
        var e = Assert.Throws<ArgumentException>(() => RankPlanner.ForMatrix(backend, "layer3.1.conv2", w, new RankOptions()));
        Assert.That(e!.Message, Does.Contain("layer3.1.conv2").And.Contain("NaN"));
        data[17] = float.PositiveInfinity;
        backend.Upload(w, data);
        Assert.Throws<ArgumentException>(() => RankPlanner.ForMatrix(backend, "x", w, new RankOptions()));
        Assert.Throws<ArgumentOutOfRangeException>(() => RankPlanner.ForMatrix(backend, "x", w, new RankOptions(Tau: 2)));
    }

    [Test]
    public void PlanPrintsSavesLoadsAndEdits()
    {
        var spectrum = new SpectrumSummary(64, 3.5, 0.25, 0.01, 40.5, 12.25, 1.0);
        var plan = new RankPlan([
            new LayerRank("a.q", 64, 32, 8, 0.52, 0.01, spectrum, RankCriterion.SumFraction, 0.5),
            new LayerRank("a.v", 64, 64, 16, 0.5, 0.02, spectrum, RankCriterion.SumFraction, 0.5),
        ], new RankOptions(Tau: 0.5) { Seed = 3 });
        var table = plan.ToTable();
        TestContext.Out.WriteLine(table);
        Assert.That(table, Does.Contain("a.q").And.Contain("64x32").And.Contain("0.5200"));
        Assert.That(plan.AdapterParameters, Is.EqualTo(8 * 96 + 8 + 16 * 128 + 16));

        var back = RankPlan.FromJson(plan.ToJson());
        Assert.That(back.Layers, Is.EqualTo(plan.Layers));
        Assert.That(back.Options, Is.EqualTo(plan.Options));

        back.SetRank("a.q", 12);
        Assert.That(back["a.q"], Is.EqualTo(12));
        Assert.That(back.Layers[0].Edited, Is.True);
        Assert.That(double.IsNaN(back.Layers[0].FractionReached), Is.True);
        Assert.That(back.ToTable(), Does.Contain("edited"));
        var again = RankPlan.FromJson(back.ToJson());
        Assert.That(again["a.q"], Is.EqualTo(12));
        Assert.That(again.Layers[0].Edited, Is.True);

        Assert.Throws<KeyNotFoundException>(() => back.SetRank("nope", 3));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => back.SetRank("a.q", 33))!.ParamName, Is.EqualTo("k"));
        var edited = plan.ToJson().Replace("\"k\": 16", "\"k\": 65");
        Assert.That(Assert.Throws<ArgumentException>(() => RankPlan.FromJson(edited))!.Message, Does.Contain("a.v"));
        Assert.That(Assert.Throws<ArgumentException>(() => RankPlan.FromJson("{]"))!.ParamName, Is.EqualTo("json"));
    }
}
