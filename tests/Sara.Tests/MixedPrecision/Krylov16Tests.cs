// The rank plan and factors of a 16-bit W0 (the default path of SaraLinear / MoSaraLinear over a bf16 / f16 W0): the
// block Krylov SVD, the dense path and the nuclear-norm estimate read the 16-bit weights in place (RowBlock GEMMs through
// MixedGemm, sums of squares widened a piece at a time) and give what the same values in float32 give.
using Sara.Native.Backends;
using Sara.Native.Svd;
using Sara.Native.Tensors;
using Sara.Tests.Support;

namespace Sara.Tests.MixedPrecision;

public class Krylov16Tests
{
    private static readonly KrylovOptions Small = new() { BlockSize = 8, Oversampling = 32, Probes = 8, LanczosSteps = 4 };

    [TestCase("cpu", "bf16", 120, 300, 3), TestCase("cpu", "f16", 300, 120, 1), TestCase("cpu", "bf16", 40, 60, 2),
     TestCase("emu", "bf16", 120, 300, 2), TestCase("emu", "f16", 40, 60, 1)]
    public void A16BitStackGetsTheRanksAndFactorsOfItsFloat32Values(string device, string type, int m, int n, int batch)
    {
        var dtype = type == "bf16" ? DType.BF16 : DType.F16;
        using var backend = TestDevices.Create(device);
        var names = Enumerable.Range(0, batch).Select(i => $"layers.{i}.q_proj").ToArray();
        using var w16 = backend.FromArray(new Rand().Normal((long)batch * m * n), dtype, batch * m, n);
        using var w32 = backend.Empty(batch * m, n);
        backend.Convert(w16, w32);   // exact: the same values in float32
        var options = new RankOptions(KMax: 16) { Spectrum = SpectrumMode.Estimated, Krylov = Small };

        var got = RankPlanner.FactorizeBatch(backend, names, w16, options);
        var want = RankPlanner.FactorizeBatch(backend, names, w32, options);
        try
        {
            for (var i = 0; i < batch; i++)
            {
                Assert.That(got[i].Rank.K, Is.EqualTo(want[i].Rank.K), names[i]);
                Assert.That(got[i].Rank.Estimate is null, Is.EqualTo(want[i].Rank.Estimate is null), $"{names[i]}: same path");
                Assert.That(Oracle.RelErr(got[i].SingularValues, want[i].SingularValues.Select(v => (double)v).ToArray()),
                    Is.Not.NaN.And.LessThan(1e-5), $"{names[i]}: values");
                Assert.That(Oracle.RelErr(got[i].A.ToArray(), want[i].A.ToArray().Select(v => (double)v).ToArray()),
                    Is.Not.NaN.And.LessThan(1e-5), $"{names[i]}: A");
                Assert.That(Oracle.RelErr(got[i].B.ToArray(), want[i].B.ToArray().Select(v => (double)v).ToArray()),
                    Is.Not.NaN.And.LessThan(1e-5), $"{names[i]}: B");
            }
        }
        finally
        {
            foreach (var f in got.Concat(want)) f.Dispose();
        }
        Assert.That(w16.DType, Is.EqualTo(dtype), "the weight stays 16-bit");
    }

    [TestCase("cpu"), TestCase("emu")]
    public void ANonFinite16BitWeightIsRefusedByName(string device)
    {
        using var backend = TestDevices.Create(device);
        var data = new Rand().Normal(40L * 60);
        data[77] = 70000f;   // beyond f16's 65504: rounds to infinity
        using var w = backend.FromArray(data, DType.F16, 40, 60);
        var e = Assert.Throws<ArgumentException>(() => RankPlanner.Factorize(backend, "blocks.1.mlp", w, new RankOptions(KMax: 8)));
        Assert.That(e!.Message, Does.Contain("blocks.1.mlp").And.Contain("1 NaN or infinite"));
    }
}
