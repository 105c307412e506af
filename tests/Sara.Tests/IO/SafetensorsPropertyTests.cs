// Property test: random sets of tensors (names, shapes, dtypes, counts, metadata) survive a write/read round trip.
using Sara.Native.IO;

namespace Sara.Tests.IO;

public sealed class SafetensorsPropertyTests : IoTestBase
{
    private const string NameChars = "abcdefghijklmnopqrstuvwxyzABCXYZ0123456789._-/:é漢 ";
    private static readonly SafetensorsDType[] DTypes = [SafetensorsDType.F32, SafetensorsDType.F16, SafetensorsDType.BF16];

    private sealed record Spec(string Name, SafetensorsDType DType, long[] Shape, float[] Data);

    [Test]
    public void RandomTensorSetsRoundTrip([Range(0, 3)] int block)
    {
        for (int seed = block * 50; seed < (block + 1) * 50; seed++) RoundTripOnce(seed);
    }

    private void RoundTripOnce(int seed)
    {
        var rng = new Random(seed);
        var specs = RandomSpecs(rng);
        var metadata = Enumerable.Range(0, rng.Next(4)).ToDictionary(i => $"key{i}{RandomName(rng)}", _ => RandomName(rng));
        string path = FilePath($"prop{seed}.safetensors");
        var writer = new SafetensorsWriter();
        foreach (var (k, v) in metadata) writer.Metadata[k] = v;
        foreach (var s in specs) writer.Add(s.Name, s.DType, s.Shape, s.Data);
        writer.Save(path);

        using var file = SafetensorsFile.Open(path);
        string where = $"seed {seed}";
        Assert.That(file.Metadata, Is.EquivalentTo(metadata), where);
        Assert.That(file.Tensors.Select(t => t.Name), Is.EqualTo(specs.Select(s => s.Name)), where);
        long dataBytes = 0;
        foreach (var s in specs)
        {
            var info = file.GetInfo(s.Name);
            Assert.That(info.DType, Is.EqualTo(s.DType), where);
            Assert.That(info.Shape, Is.EqualTo(s.Shape), where);
            SafetensorsRoundTripTests.AssertStored(s.DType, s.Data, file.ReadFloats(s.Name));
            dataBytes += info.ByteLength;
        }
        long headerLength = BitConverter.ToInt64(File.ReadAllBytes(path), 0);
        Assert.That(file.FileLength, Is.EqualTo(8 + headerLength + dataBytes), where);
    }

    private static List<Spec> RandomSpecs(Random rng)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var specs = new List<Spec>();
        int count = rng.Next(0, 9);
        while (specs.Count < count)
        {
            string name = RandomName(rng);
            if (name == "__metadata__" || !names.Add(name)) continue;
            var shape = Enumerable.Range(0, rng.Next(0, 5)).Select(_ => (long)rng.Next(0, 6)).ToArray();
            long n = shape.Aggregate(1L, (a, d) => a * d);
            var data = SafetensorsRoundTripTests.TestValues(rng, (int)n);
            specs.Add(new Spec(name, DTypes[rng.Next(DTypes.Length)], shape, data));
        }
        return specs;
    }

    private static string RandomName(Random rng) =>
        new(Enumerable.Range(0, rng.Next(1, 24)).Select(_ => NameChars[rng.Next(NameChars.Length)]).ToArray());
}
