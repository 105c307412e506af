// Precision (C#): round to nearest even with PyTorch's bits, checked against an independent float64 model of rounding
// and a table of edge cases; the vector paths against the scalar ones, bit for bit.
using Sara.Native.Tensors;
using Sara.Tests.IO;
using P = Sara.Native.Tensors.Precision;

namespace Sara.Tests.MixedPrecision;

public class ConversionTests
{
    [Test]
    public void NarrowingMatchesTheFloat64RoundingModelOnEveryBoundary()
    {
        var bad = new List<string>();
        foreach (var u in BitPatterns.Float32Sweep())
        {
            var x = BitConverter.UInt32BitsToSingle(u);
            if (float.IsNaN(x))
            {
                if (P.ToBFloat16(x) != 0x7FC0) bad.Add($"bf16 NaN {u:X8} -> {P.ToBFloat16(x):X4}");
                if (P.ToHalf(x) != (ushort)(((u >> 16) & 0x8000) | 0x7E00)) bad.Add($"f16 NaN {u:X8} -> {P.ToHalf(x):X4}");
                continue;
            }
            if (!FloatRoundingOracle.SameFloat(P.FromBFloat16(P.ToBFloat16(x)), FloatRoundingOracle.ToBFloat16(x)))
                bad.Add($"bf16 {u:X8}: {P.ToBFloat16(x):X4}, model {FloatRoundingOracle.ToBFloat16(x):R}");
            if (!FloatRoundingOracle.SameFloat(P.FromHalf(P.ToHalf(x)), FloatRoundingOracle.ToHalf(x)))
                bad.Add($"f16 {u:X8}: {P.ToHalf(x):X4}, model {FloatRoundingOracle.ToHalf(x):R}");
            if (bad.Count > 20) break;
        }
        Assert.That(bad, Is.Empty);
    }

    // Expected bits as PyTorch's scalar conversions give them (c10 round_to_nearest_even, fp16_ieee_from_fp32_value).
    [TestCase(0x3F800000u, (ushort)0x3F80, (ushort)0x3C00, TestName = "one")]
    [TestCase(0x3F808000u, (ushort)0x3F80, (ushort)0x3C04, TestName = "bf16 tie below an even: stays")]
    [TestCase(0x3F818000u, (ushort)0x3F82, (ushort)0x3C0C, TestName = "bf16 tie above an odd: rounds up to even")]
    [TestCase(0x3F801000u, (ushort)0x3F80, (ushort)0x3C00, TestName = "f16 tie below an even: stays")]
    [TestCase(0x3F803000u, (ushort)0x3F80, (ushort)0x3C02, TestName = "f16 tie above an odd: rounds up to even")]
    [TestCase(0x3DCCCCCDu, (ushort)0x3DCD, (ushort)0x2E66, TestName = "0.1")]
    [TestCase(0x80000000u, (ushort)0x8000, (ushort)0x8000, TestName = "negative zero")]
    [TestCase(0x7F800000u, (ushort)0x7F80, (ushort)0x7C00, TestName = "infinity")]
    [TestCase(0xFF800000u, (ushort)0xFF80, (ushort)0xFC00, TestName = "negative infinity")]
    [TestCase(0x7F7FFFFFu, (ushort)0x7F80, (ushort)0x7C00, TestName = "float max overflows both")]
    [TestCase(0x7F7F7FFFu, (ushort)0x7F7F, (ushort)0x7C00, TestName = "largest value that stays finite in bf16")]
    [TestCase(0x477FE000u, (ushort)0x4780, (ushort)0x7BFF, TestName = "65504, f16's largest finite")]
    [TestCase(0x477FEFFFu, (ushort)0x4780, (ushort)0x7BFF, TestName = "just under 65520 rounds down to 65504")]
    [TestCase(0x477FF000u, (ushort)0x4780, (ushort)0x7C00, TestName = "65520 ties to even: infinity")]
    [TestCase(0xC7C35000u, (ushort)0xC7C3, (ushort)0xFC00, TestName = "-100000 overflows f16 to negative infinity")]
    [TestCase(0x38800000u, (ushort)0x3880, (ushort)0x0400, TestName = "2^-14, smallest normal f16")]
    [TestCase(0x387FF000u, (ushort)0x3880, (ushort)0x0400, TestName = "rounds up from the subnormals into the smallest normal")]
    [TestCase(0x33800000u, (ushort)0x3380, (ushort)0x0001, TestName = "2^-24, smallest subnormal f16")]
    [TestCase(0x33000000u, (ushort)0x3300, (ushort)0x0000, TestName = "2^-25 ties to even zero")]
    [TestCase(0x33000001u, (ushort)0x3300, (ushort)0x0001, TestName = "just over 2^-25 rounds up")]
    [TestCase(0x33C00000u, (ushort)0x33C0, (ushort)0x0002, TestName = "1.5 x 2^-24 ties to even 2")]
    [TestCase(0x00000001u, (ushort)0x0000, (ushort)0x0000, TestName = "smallest float subnormal")]
    [TestCase(0x00018000u, (ushort)0x0002, (ushort)0x0000, TestName = "float subnormal tie in bf16")]
    [TestCase(0x807FFFFFu, (ushort)0x8080, (ushort)0x8000, TestName = "largest negative float subnormal carries into bf16's exponent")]
    [TestCase(0x7FC00000u, (ushort)0x7FC0, (ushort)0x7E00, TestName = "quiet NaN")]
    [TestCase(0xFFC00001u, (ushort)0x7FC0, (ushort)0xFE00, TestName = "negative NaN with payload")]
    [TestCase(0x7F800001u, (ushort)0x7FC0, (ushort)0x7E00, TestName = "signalling NaN")]
    public void EdgeCasesGivePyTorchsBits(uint input, ushort bf16, ushort f16)
    {
        var x = BitConverter.UInt32BitsToSingle(input);
        Assert.That(P.ToBFloat16(x), Is.EqualTo(bf16), $"bf16 of {input:X8}");
        Assert.That(P.ToHalf(x), Is.EqualTo(f16), $"f16 of {input:X8}");
    }

    [Test]
    public void WideningIsExactForEvery16BitPattern()
    {
        foreach (var h in BitPatterns.All16())
        {
            var bf = P.FromBFloat16(h);
            Assert.That(BitConverter.SingleToUInt32Bits(bf), Is.EqualTo((uint)h << 16), $"bf16 {h:X4}");
            var f = P.FromHalf(h);
            var reference = (float)BitConverter.UInt16BitsToHalf(h);   // .NET's IEEE conversion, written independently
            if (float.IsNaN(reference))
            {
                Assert.That(float.IsNaN(f), Is.True, $"f16 NaN {h:X4}");
                Assert.That(BitConverter.SingleToUInt32Bits(f), Is.EqualTo(((uint)(h & 0x8000) << 16) | 0x7FC00000u | ((uint)(h & 0x3FF) << 13)),
                    $"f16 NaN {h:X4}: sign and payload kept, made quiet");
            }
            else Assert.That(BitConverter.SingleToUInt32Bits(f), Is.EqualTo(BitConverter.SingleToUInt32Bits(reference)), $"f16 {h:X4}");
            if (!float.IsNaN(f)) Assert.That(P.ToHalf(f), Is.EqualTo(h), $"f16 {h:X4} round trip");
            if (!float.IsNaN(bf)) Assert.That(P.ToBFloat16(bf), Is.EqualTo(h), $"bf16 {h:X4} round trip");
        }
    }

    [TestCase(DType.BF16), TestCase(DType.F16)]
    public void VectorPathsGiveTheScalarBits(DType dtype)
    {
        // An odd length, so the scalar tail runs too.
        var floats = BitPatterns.AsFloats(BitPatterns.Float32Sweep())[..1_000_003];
        var bits = new ushort[floats.Length];
        P.Narrow(dtype, floats, bits);
        for (var i = 0; i < floats.Length; i++)
            if (bits[i] != P.To16(dtype, floats[i]))
                Assert.Fail($"{dtype} narrow of {BitConverter.SingleToUInt32Bits(floats[i]):X8}: vector {bits[i]:X4}, scalar {P.To16(dtype, floats[i]):X4}");

        var all = BitPatterns.All16().Concat(new ushort[] { 1, 2, 3 }).ToArray();
        var wide = new float[all.Length];
        P.Widen(dtype, all, wide);
        for (var i = 0; i < all.Length; i++)
            Assert.That(BitConverter.SingleToUInt32Bits(wide[i]), Is.EqualTo(BitConverter.SingleToUInt32Bits(P.From16(dtype, all[i]))), $"{dtype} widen of {all[i]:X4}");
    }

    [Test]
    public void Float64ValuesRoundOnceWithoutDoubleRounding()
    {
        var r = new Random();
        var values = new List<double>();
        // Exact ties and values a hair either side of them (float32 in between would round these twice), random values,
        // and the overflow and subnormal edges.
        foreach (var u in BitPatterns.Float32Sweep().Where((_, i) => i % 7 == 0))
        {
            var x = (double)BitConverter.UInt32BitsToSingle(u);
            if (!double.IsFinite(x)) continue;
            values.Add(x);
            values.Add(x * (1 + 1e-12));
            values.Add(x * (1 - 1e-12));
        }
        for (var i = 0; i < 100_000; i++) values.Add((r.NextDouble() - 0.5) * Math.Pow(2, r.Next(-30, 20)));
        values.AddRange([65520.0 - 1e-9, 65520.0, 1e300, -1e300, Math.Pow(2, -25), Math.Pow(2, -25) * (1 + 1e-15), 1e-300, -0.0]);
        foreach (var x in values)
        {
            if (P.FromBFloat16(P.To16(DType.BF16, x)) != (float)FloatRoundingOracle.ToBFloat16(x))
                Assert.Fail($"bf16 of {x:R}: {P.To16(DType.BF16, x):X4}, model {FloatRoundingOracle.ToBFloat16(x):R}");
            if (P.FromHalf(P.To16(DType.F16, x)) != (float)FloatRoundingOracle.ToHalf(x))
                Assert.Fail($"f16 of {x:R}: {P.To16(DType.F16, x):X4}, model {FloatRoundingOracle.ToHalf(x):R}");
        }
        Assert.That(P.To16(DType.BF16, double.NaN), Is.EqualTo(P.BFloat16NaN));
    }

    [Test]
    public void MismatchedSpanLengthsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => P.Narrow(DType.BF16, new float[3], new ushort[2]));
        Assert.Throws<ArgumentException>(() => P.Widen(DType.F16, new ushort[3], new float[4]));
        Assert.Throws<ArgumentOutOfRangeException>(() => P.To16(DType.F32, 1f));
    }
}
