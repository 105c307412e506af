using Sara.Tests.Support;

namespace Sara.Tests.Kernels;

/// <summary>
/// Parity of the fused backward rank kernel (kernels/lowrank.cu: dZ = s G A, dH = dZ (.) lambda, dlambda = column sums of
/// dZ (.) H finished by sara_column_sum) against the float64 oracle, each optional output alone and all together.
/// </summary>
public class LowRankBackwardRankTests
{
    private static readonly (int T, int M, int K)[] Shapes =
        [(1, 1, 1), (1, 300, 7), (63, 65, 1), (64, 32, 32), (65, 129, 33), (200, 96, 256), (333, 47, 29), (1000, 20, 5)];

    public static IEnumerable<TestCaseData> Cases() =>
        from d in TestDevices.Emulated from s in Shapes
        select new TestCaseData(d, s.T, s.M, s.K).SetArgDisplayNames(d, $"T{s.T}", $"m{s.M}", $"k{s.K}");

    public static IEnumerable<TestCaseData> GpuCases() =>
        from s in Shapes select new TestCaseData("cuda", s.T, s.M, s.K).SetArgDisplayNames("cuda", $"T{s.T}", $"m{s.M}", $"k{s.K}").SetCategory("gpu");

    [TestCaseSource(nameof(Cases)), TestCaseSource(nameof(GpuCases))]
    public void OutputsMatchOracle(string device, int t, int m, int k)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        float[] gs = r.Normal((long)t * m), as_ = r.Normal((long)m * k), hs = r.Normal((long)t * k), lam = r.Normal(k);
        const float scale = 1.3f;
        using var g = backend.FromArray(gs, t, m);
        using var a = backend.FromArray(as_, m, k);
        using var h = backend.FromArray(hs, t, k);
        using var lambda = backend.FromArray(lam, k);
        using var dz = backend.Empty(t, k);
        using var dh = backend.Empty(t, k);
        using var dlambda = backend.Empty(k);

        // The reference, and the same computation on absolute values (the cancellation-aware floor of Oracle.RelErr).
        (double[] Dz, double[] Dh, double[] Dl) Reference(double[] gd, double[] ad, double[] hd, double[] ld)
        {
            var dzr = Oracle.MatMul(gd, t, m, false, ad, m, k, false).Select(v => scale * v).ToArray();
            return (dzr, Oracle.ScaleColumns(dzr, t, k, ld), Oracle.ColumnSum(Oracle.Mul(dzr, hd), t, k));
        }
        var (dzRef, dhRef, dlRef) = Reference(Oracle.D(gs), Oracle.D(as_), Oracle.D(hs), Oracle.D(lam));
        var (dzAbs, dhAbs, dlAbs) = Reference(Oracle.Abs(gs), Oracle.Abs(as_), Oracle.Abs(hs), Oracle.Abs(lam));

        void Poison()
        {
            backend.Fill(dz, float.NaN);
            backend.Fill(dh, float.NaN);
            backend.Fill(dlambda, float.NaN);
        }

        Poison();
        backend.LowRankBackwardRank(g, a, h, lambda, scale, dz, dh, dlambda);
        Oracle.AssertClose(dz.ToArray(), dzRef, dzAbs, 1e-5, "dZ (all outputs)");
        Oracle.AssertClose(dh.ToArray(), dhRef, dhAbs, 1e-5, "dH (all outputs)");
        Oracle.AssertClose(dlambda.ToArray(), dlRef, dlAbs, 1e-5, "dlambda (all outputs)");

        Poison();
        backend.LowRankBackwardRank(g, a, null, null, scale, dz, null, null);
        Oracle.AssertClose(dz.ToArray(), dzRef, dzAbs, 1e-5, "dZ alone (the Mo-SARA path)");
        Assert.That(dh.ToArray(), Is.All.NaN, "dH untouched when not asked for");

        Poison();
        backend.LowRankBackwardRank(g, a, h, lambda, scale, null, dh, dlambda);
        Oracle.AssertClose(dh.ToArray(), dhRef, dhAbs, 1e-5, "dH (the SARA path)");
        Oracle.AssertClose(dlambda.ToArray(), dlRef, dlAbs, 1e-5, "dlambda (the SARA path)");
        Assert.That(dz.ToArray(), Is.All.NaN, "dZ untouched when not asked for");
    }

    [TestCase("cpu"), TestCase("emu"), TestCase("cuda", Category = "gpu")]
    public void RepeatedRunsGiveIdenticalBits(string device)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        const int t = 777, m = 90, k = 40;
        using var g = backend.FromArray(r.Normal(t * m), t, m);
        using var a = backend.FromArray(r.Normal(m * k), m, k);
        using var h = backend.FromArray(r.Normal(t * k), t, k);
        using var lambda = backend.FromArray(r.Normal(k), k);
        using var dlambda = backend.Empty(k);
        backend.LowRankBackwardRank(g, a, h, lambda, 1f, null, null, dlambda);
        var first = dlambda.ToArray();
        backend.LowRankBackwardRank(g, a, h, lambda, 1f, null, null, dlambda);
        var second = dlambda.ToArray();
        Assert.That(second, Is.EqualTo(first).AsCollection);
    }
}
