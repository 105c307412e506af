// Writes F32 / F16 / BF16 tensors and reads them back; F16 and BF16 must equal an independent rounding model exactly.
using Sara.Native.IO;
using Sara.Tests.Support;

namespace Sara.Tests.IO;

public sealed class SafetensorsRoundTripTests : IoTestBase
{
    /// <summary>Random values over many binades, plus ties, subnormals, overflow and specials.</summary>
    internal static float[] TestValues(Random rng, int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            double mag = Math.Pow(2, rng.Next(-30, 20)) * (1 + rng.NextDouble());
            values[i] = (float)(rng.Next(2) == 0 ? mag : -mag);
        }
        float[] specials =
        [
            1.0f + MathF.Pow(2, -8),            // bf16 tie, rounds to even (down)
            1.0f + 3 * MathF.Pow(2, -8),        // bf16 tie, rounds to even (up)
            1.0f + MathF.Pow(2, -11),           // f16 tie
            5.96e-8f, 1e-6f, -3e-5f,            // f16 subnormals
            65519f, 65520f, 70000f, -1e9f,      // f16 largest, overflow, beyond
            1e-40f, -2e-39f,                    // float (and bf16) subnormals
            float.PositiveInfinity, float.NegativeInfinity, float.NaN, -0.0f, float.MaxValue, float.Epsilon,
        ];
        for (int i = 0; i < specials.Length && i < count; i++) values[rng.Next(count)] = specials[i];
        return values;
    }

    [TestCase(SafetensorsDType.F32)]
    [TestCase(SafetensorsDType.F16)]
    [TestCase(SafetensorsDType.BF16)]
    public void RoundTripEqualsRoundedValues(SafetensorsDType dtype)
    {
        var rng = new Random(1000 + (int)dtype);
        float[] matrix = TestValues(rng, 7 * 13);
        float[] vector = TestValues(rng, 5);
        string path = FilePath("rt.safetensors");
        var writer = new SafetensorsWriter();
        writer.Metadata["note"] = "round trip ✓";
        writer.Add("layer.0.weight", dtype, [7, 13], matrix).Add("layer.0.bias", dtype, [5], vector);
        writer.Save(path);

        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Metadata["note"], Is.EqualTo("round trip ✓"));
        Assert.That(file.Tensors.Select(t => t.Name), Is.EqualTo(new[] { "layer.0.weight", "layer.0.bias" }));
        var info = file.GetInfo("layer.0.weight");
        Assert.That(info.DType, Is.EqualTo(dtype));
        Assert.That(info.Shape, Is.EqualTo(new long[] { 7, 13 }));
        AssertStored(dtype, matrix, file.ReadFloats("layer.0.weight"));
        AssertStored(dtype, vector, file.ReadFloats("layer.0.bias"));
    }

    [Test]
    public void F16ConversionIsLossyWhereExpected()
    {
        // Guards the oracle itself: values that need more than 10 mantissa bits must change.
        Assert.That(FloatRoundingOracle.ToHalf(1.0f + MathF.Pow(2, -12)), Is.EqualTo(1.0f));
        Assert.That(FloatRoundingOracle.ToBFloat16(1.0f + MathF.Pow(2, -9)), Is.EqualTo(1.0f));
        Assert.That(FloatRoundingOracle.ToHalf(70000f), Is.EqualTo(float.PositiveInfinity));
    }

    [Test]
    public void ReadsF64AsFloat()
    {
        var rng = new Random(77);
        var values = Enumerable.Range(0, 6).Select(_ => rng.NextDouble() * 200 - 100).ToArray();
        string path = FilePath("f64.safetensors");
        byte[] data = values.SelectMany(BitConverter.GetBytes).ToArray();
        RawSafetensors.Write(path, """{"d":{"dtype":"F64","shape":[2,3],"data_offsets":[0,48]}}""", data);
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.ReadFloats("d"), Is.EqualTo(values.Select(v => (float)v).ToArray()));
    }

    [Test]
    public void NonFloatTensorsOpenButDoNotReadAsFloat()
    {
        string path = FilePath("ints.safetensors");
        RawSafetensors.Write(path, """{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}""", new byte[16]);
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.GetInfo("ids").DType, Is.EqualTo(SafetensorsDType.I64));
        var e = Assert.Throws<NotSupportedException>(() => file.ReadFloats("ids"));
        Assert.That(e!.Message, Does.Contain("ids").And.Contain("I64"));
    }

    [Test]
    public void ReadIntoSpanChecksLengthAndUnknownNamesThrow()
    {
        string path = FilePath("span.safetensors");
        var data = TestValues(new Random(5), 12);
        new SafetensorsWriter().Add("w", [3, 4], data).Save(path);
        using var file = SafetensorsFile.Open(path);
        var dest = Enumerable.Repeat(float.NaN, 12).ToArray();
        file.ReadFloats("w", dest);
        AssertStored(SafetensorsDType.F32, data, dest);
        Assert.Throws<ArgumentException>(() => file.ReadFloats("w", new float[11]));
        var e = Assert.Throws<KeyNotFoundException>(() => file.ReadFloats("nope"));
        Assert.That(e!.Message, Does.Contain("nope").And.Contain(path));
    }

    [Test]
    public void WriterRejectsBadInput()
    {
        var w = new SafetensorsWriter().Add("a", [2], new float[] { 1, 2 });
        Assert.That(Assert.Throws<ArgumentException>(() => w.Add("a", [2], new float[] { 1, 2 }))!.Message, Does.Contain("'a'"));
        Assert.That(Assert.Throws<ArgumentException>(() => w.Add("b", [2, 2], new float[3]))!.ParamName, Is.EqualTo("data"));
        Assert.That(Assert.Throws<ArgumentException>(() => w.Add("c", SafetensorsDType.I32, [1], new float[1]))!.ParamName, Is.EqualTo("dtype"));
        Assert.That(Assert.Throws<ArgumentException>(() => w.Add("d", [-1], new float[0]))!.ParamName, Is.EqualTo("shape"));
        Assert.That(Assert.Throws<ArgumentException>(() => w.Add("__metadata__", [1], new float[1]))!.ParamName, Is.EqualTo("name"));
    }

    [Test]
    public void HeaderIsPaddedSoDataIsEightByteAligned()
    {
        string path = FilePath("aligned.safetensors");
        new SafetensorsWriter().Add("x", SafetensorsDType.F16, [3], new float[] { 1, 2, 3 }).Save(path);
        byte[] bytes = File.ReadAllBytes(path);
        long headerLength = BitConverter.ToInt64(bytes, 0);
        Assert.That((8 + headerLength) % 8, Is.Zero);
        Assert.That(bytes.Length, Is.EqualTo(8 + headerLength + 6));
    }

    internal static void AssertStored(SafetensorsDType dtype, float[] written, float[] read)
    {
        Assert.That(read, Has.Length.EqualTo(written.Length));
        for (int i = 0; i < written.Length; i++)
        {
            float expected = FloatRoundingOracle.Stored(dtype, written[i]);
            if (!FloatRoundingOracle.SameFloat(expected, read[i]))
                Assert.Fail($"{dtype} element {i}: wrote {written[i]:R}, expected {expected:R}, read {read[i]:R}");
        }
    }

    [Test]
    public void F64AndRawTensorsRoundTrip()
    {
        var rng = new Random(new Rand().Int(0, int.MaxValue));   // seeded from the run's logged seed (SARA_TEST_SEED)
        float[] values = TestValues(rng, 37);
        byte[] ints = Enumerable.Range(0, 6).SelectMany(i => BitConverter.GetBytes((long)rng.Next() - int.MaxValue / 2)).ToArray();
        string path = FilePath("raw.safetensors");
        new SafetensorsWriter()
            .Add("f64", SafetensorsDType.F64, [37], values)
            .AddRaw("i64", SafetensorsDType.I64, [2, 3], ints)
            .Save(path);
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.ReadFloats("f64"), Is.EqualTo(values).AsCollection, "float -> F64 -> float is exact");
        Assert.That(file.GetBytes("i64").ToArray(), Is.EqualTo(ints).AsCollection, "raw bytes copied unchanged");
        Assert.Throws<ArgumentException>(() => new SafetensorsWriter().AddRaw("bad", SafetensorsDType.I32, [3], new byte[11]));
    }
}
