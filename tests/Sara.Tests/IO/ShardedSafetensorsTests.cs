// Sharded checkpoints: an index .json's weight_map opens every shard; bad indexes name the index and tensor.
using Sara.Native.IO;

namespace Sara.Tests.IO;

public sealed class ShardedSafetensorsTests : IoTestBase
{
    private readonly Dictionary<string, float[]> _written = new();

    private string WriteCheckpoint()
    {
        var rng = new Random(21);
        var shards = new[]
        {
            ("model-00001-of-00002.safetensors", new[] { ("embed.weight", new long[] { 10, 4 }), ("layers.0.q.weight", new long[] { 4, 4 }) }),
            ("model-00002-of-00002.safetensors", new[] { ("layers.0.q.bias", new long[] { 4 }), ("head.weight", new long[] { 3, 4 }) }),
        };
        var map = new Dictionary<string, string>();
        long total = 0;
        foreach (var (file, tensors) in shards)
        {
            var w = new SafetensorsWriter();
            foreach (var (name, shape) in tensors)
            {
                var data = SafetensorsRoundTripTests.TestValues(rng, (int)shape.Aggregate(1L, (a, d) => a * d));
                _written[name] = data;
                w.Add(name, shape, data);
                map[name] = file;
                total += data.Length * 4L;
            }
            w.Save(FilePath(file));
        }
        string index = FilePath("model.safetensors.index.json");
        ShardedSafetensors.WriteIndex(index, map, total);
        return index;
    }

    [Test]
    public void IndexOpensEveryShard()
    {
        string index = WriteCheckpoint();
        using var model = ShardedSafetensors.Open(index);
        Assert.That(model.Shards, Has.Count.EqualTo(2));
        Assert.That(model.Tensors.Select(t => t.Name), Is.EquivalentTo(_written.Keys));
        Assert.That(model.Metadata["total_size"], Is.EqualTo((_written.Values.Sum(v => v.Length) * 4).ToString()));
        foreach (var (name, data) in _written)
            SafetensorsRoundTripTests.AssertStored(SafetensorsDType.F32, data, model.ReadFloats(name));
        Assert.That(Path.GetFileName(model.Shard("head.weight").Path), Is.EqualTo("model-00002-of-00002.safetensors"));
    }

    [Test]
    public void WeightSourceOpensTheIndex()
    {
        string index = WriteCheckpoint();
        using var source = WeightSource.Open(index, WeightFilter.Parse(exclude: ["embed.*"]));
        Assert.That(source.Matrices.Select(m => $"{m.Name} {m.Rows}x{m.Cols}"), Is.EquivalentTo(new[] { "layers.0.q.weight 4x4", "head.weight 3x4" }));
        Assert.That(source.Matrices.Single(m => m.Name == "head.weight").Load(), Is.EqualTo(_written["head.weight"]));
    }

    [Test]
    public void TensorMissingFromItsShardIsNamed()
    {
        string index = WriteCheckpoint();
        File.WriteAllText(index, """{"weight_map":{"head.weight":"model-00001-of-00002.safetensors"}}""");
        var e = Assert.Throws<SafetensorsFormatException>(() => ShardedSafetensors.Open(index));
        Assert.That(e!.TensorName, Is.EqualTo("head.weight"));
        Assert.That(e.Message, Does.Contain(index).And.Contain("has no such tensor"));
    }

    [Test]
    public void MissingShardFileIsNamed()
    {
        string index = WriteCheckpoint();
        File.Delete(FilePath("model-00002-of-00002.safetensors"));
        var e = Assert.Throws<SafetensorsFormatException>(() => ShardedSafetensors.Open(index));
        Assert.That(e!.Message, Does.Contain("model-00002-of-00002.safetensors").And.Contain("does not exist"));
    }

    [Test]
    public void ShardOutsideTheFolderIsRejected()
    {
        string index = WriteCheckpoint();
        File.WriteAllText(index, """{"weight_map":{"x":"../elsewhere.safetensors"}}""");
        var e = Assert.Throws<SafetensorsFormatException>(() => ShardedSafetensors.Open(index));
        Assert.That(e!.TensorName, Is.EqualTo("x"));
        Assert.That(e.Problem, Does.Contain("not a file in the index's folder"));
    }

    [Test]
    public void IndexWithoutWeightMapIsRejected()
    {
        string index = FilePath("model.safetensors.index.json");
        File.WriteAllText(index, """{"metadata":{}}""");
        var e = Assert.Throws<SafetensorsFormatException>(() => ShardedSafetensors.Open(index));
        Assert.That(e!.Message, Does.Contain(index).And.Contain("weight_map"));
    }
}
