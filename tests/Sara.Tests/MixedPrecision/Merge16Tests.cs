// Merging into a 16-bit W0 (issue 13): W0 + s A diag(lambda) B summed in float64 and rounded once, so every element is
// within one ulp of the float64 merge (half an ulp) and is its round-to-nearest-even value. (`sara merge` of BF16 / F16
// bases, through the same layer merge: Cli/MergeInputTests.HalfPrecisionBasesMergeInTheirOwnDType.)
using Sara.Native.IO;
using Sara.Native.Layers;
using Sara.Native.Tensors;
using Sara.Tests.Cli;
using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.IO;
using Sara.Tests.Support;

namespace Sara.Tests.MixedPrecision;

public class Merge16Tests
{
    /// <summary>
    /// Checks merged (as stored, widened) against the float64 merge: within one ulp everywhere, and equal to the
    /// float64 merge rounded to nearest even wherever that value is not within 1e-6 ulp of a rounding tie (where the
    /// two float64 sums, in different orders, may land on either side).
    /// </summary>
    public static void AssertMergedWithinOneUlp(float[] merged, double[] exact, DType dtype, string what)
    {
        var bf = dtype == DType.BF16;
        int rne = 0, nearTie = 0;
        for (var i = 0; i < merged.Length; i++)
        {
            var ulp = FloatRoundingOracle.Ulp(exact[i], bf);
            var err = Math.Abs(merged[i] - exact[i]);
            Assert.That(err, Is.Not.NaN.And.LessThanOrEqualTo(ulp), $"{what}[{i}]: {merged[i]:R} vs float64 {exact[i]:R} (ulp {ulp:E2})");
            var nearest = bf ? FloatRoundingOracle.ToBFloat16(exact[i]) : FloatRoundingOracle.ToHalf(exact[i]);
            var fromTie = Math.Abs(Math.Abs(exact[i] - nearest) - ulp / 2);
            if (fromTie < 1e-6 * ulp) { nearTie++; continue; }
            Assert.That(merged[i], Is.EqualTo(nearest), $"{what}[{i}]: float64 merge {exact[i]:R} rounds to {nearest:R}");
            rne++;
        }
        TestContext.Out.WriteLine($"{what}: {rne} elements equal to the float64 merge rounded to nearest even, {nearTie} within 1e-6 ulp of a tie");
        Assert.That(rne, Is.GreaterThan(merged.Length * 99 / 100), "almost every element is checked for the exact rounding");
    }

    [Test]
    public void MergingIntoA16BitW0RoundsOnceToWithinOneUlp(
        [Values("cpu", "emu")] string device, [Values(DType.BF16, DType.F16)] DType dtype)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        const int m = 300, n = 130, k = 7;
        const float scale = 0.8f;
        float[] w0 = Gemm16Parity.Draw(r, m * n, dtype), a = r.Normal(m * k, 0.2), b = r.Normal(k * n, 0.2), lambda = r.Normal(k);
        using var layer = SaraLinear.FromFactors(backend, "l", w0, m, n, null, a, b, k, lambda, new SaraOptions { Scale = scale, W0DType = dtype });
        layer.Merge();
        Assert.That(layer.W0.DType, Is.EqualTo(dtype));
        var exact = MergeCommandTests.Oracle(w0, AdapterLayer.Sara("l", m, n, lambda, a, b), scale);
        AssertMergedWithinOneUlp(layer.W0.ToArray(), exact, dtype, $"{device} {dtype.Name()} W0'");
        var merged = layer.W0.ToArray();
        layer.Unmerge();
        var back = layer.W0.ToArray();
        var bf = dtype == DType.BF16;
        for (var i = 0; i < back.Length; i++)   // two roundings: half an ulp of the merged value, half an ulp of the result
            Assert.That(Math.Abs(back[i] - w0[i]), Is.Not.NaN.And.LessThanOrEqualTo(0.5 * (FloatRoundingOracle.Ulp(merged[i], bf) + FloatRoundingOracle.Ulp(back[i], bf))),
                $"unmerged [{i}]");
    }
}
