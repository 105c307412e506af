// `sara merge` of a sharded checkpoint (model.safetensors.index.json): the same layout out, dtypes kept, and every tensor the
// same bytes as the single-file merge of the same weights.
using System.Text.Json;
using Sara.Native.IO;
using Sara.Tests.Support;

namespace Sara.Tests.Cli;

public sealed class ShardedMergeTests : CliTestBase
{
    private sealed record BaseTensor(string Name, SafetensorsDType DType, long[] Shape, string Shard);

    private static readonly BaseTensor[] Layout =
    [
        new("model.embed_tokens.weight", SafetensorsDType.F32, [20, 16], "model-00001-of-00003.safetensors"),
        new("model.layers.0.q_proj.weight", SafetensorsDType.BF16, [24, 16], "model-00001-of-00003.safetensors"),
        new("model.layers.0.q_proj.bias", SafetensorsDType.F32, [24], "model-00002-of-00003.safetensors"),
        new("model.layers.1.q_proj.weight", SafetensorsDType.F16, [24, 16], "model-00002-of-00003.safetensors"),
        new("model.layers.1.mlp.up_proj.weight", SafetensorsDType.F32, [32, 16], "model-00003-of-00003.safetensors"),
        new("model.norm.weight", SafetensorsDType.BF16, [16], "model-00003-of-00003.safetensors"),
        new("step", SafetensorsDType.I64, [2], "model-00003-of-00003.safetensors"),
    ];

    /// <summary>The same weights as one file and as three shards with an index (shard order differs from name order on purpose).</summary>
    private (string Single, string Index) WriteBase(Rand rand)
    {
        var data = Layout.ToDictionary(t => t.Name, t => rand.Normal(t.Shape.Aggregate(1L, (a, d) => a * d)));
        void Add(SafetensorsWriter w, BaseTensor t)
        {
            if (t.DType == SafetensorsDType.I64) w.AddRaw(t.Name, t.DType, t.Shape, BitConverter.GetBytes(7L).Concat(BitConverter.GetBytes(-3L)).ToArray());
            else w.Add(t.Name, t.DType, t.Shape, data[t.Name]);
        }
        var single = new SafetensorsWriter();
        single.Metadata["format"] = "pt";
        foreach (var t in Layout) Add(single, t);
        Directory.CreateDirectory(PathOf("single"));
        var singlePath = Path.Combine(PathOf("single"), "model.safetensors");
        single.Save(singlePath);

        Directory.CreateDirectory(PathOf("sharded"));
        foreach (var group in Layout.GroupBy(t => t.Shard))
        {
            var w = new SafetensorsWriter();
            w.Metadata["format"] = "pt";
            foreach (var t in group.Reverse()) Add(w, t);
            w.Save(Path.Combine(PathOf("sharded"), group.Key));
        }
        var index = Path.Combine(PathOf("sharded"), "model.safetensors.index.json");
        ShardedSafetensors.WriteIndex(index, Layout.ToDictionary(t => t.Name, t => t.Shard), 12345);
        return (singlePath, index);
    }

    private string WriteAdapter(Rand rand, params (string Layer, int M, int N, int K)[] layers)
    {
        var adapter = new AdapterFile(AdapterMetadata.Create(AdapterMethod.Sara, "SumFraction", 0.2, 0.8));
        foreach (var (name, m, n, k) in layers)
            adapter.AddLayer(AdapterLayer.Sara(name, m, n, rand.Normal(k), rand.Normal(m * k, 0.3), rand.Normal(k * n, 0.3)));
        var path = PathOf("adapter.safetensors");
        adapter.Save(path);
        return path;
    }

    [Test]
    public void ShardedMergeEqualsTheSingleFileMergeBitForBit()
    {
        var rand = new Rand();
        var (single, index) = WriteBase(rand);
        var adapter = WriteAdapter(rand, ("model.layers.0.q_proj", 24, 16, 3), ("model.layers.1.q_proj", 24, 16, 2), ("model.layers.1.mlp.up_proj", 32, 16, 4));
        var outIndex = Path.Combine(PathOf("out"), "model.safetensors.index.json");
        var sharded = Sara("merge", index, adapter, "-o", outIndex, "--device", "cpu");
        Assert.That(sharded.ExitCode, Is.EqualTo(0), sharded.Err);
        Assert.That(sharded.Out, Does.Contain("merged 3 adapted layers, copied 4 other tensors unchanged"));
        var one = Sara("merge", single, adapter, "-o", PathOf("merged.safetensors"), "--device", "cpu");
        Assert.That(one.ExitCode, Is.EqualTo(0), one.Err);

        using var reference = SafetensorsFile.Open(PathOf("merged.safetensors"));
        using var baseFile = SafetensorsFile.Open(single);
        using var merged = ShardedSafetensors.Open(outIndex);
        Assert.That(merged.Tensors.Select(t => t.Name), Is.EquivalentTo(Layout.Select(t => t.Name)));
        foreach (var t in Layout)
        {
            var info = merged.GetInfo(t.Name);
            Assert.That((info.DType, info.Shape), Is.EqualTo((t.DType, t.Shape)), $"{t.Name}: dtype and shape kept");
            Assert.That(Path.GetFileName(merged.Shard(t.Name).Path), Is.EqualTo(t.Shard), $"{t.Name}: in the base's shard");
            var bytes = merged.Shard(t.Name).GetBytes(t.Name).ToArray();
            Assert.That(bytes, Is.EqualTo(reference.GetBytes(t.Name).ToArray()), $"{t.Name}: the single-file merge's bytes");
            var adapted = t.Name.EndsWith("proj.weight", StringComparison.Ordinal);
            Assert.That(bytes.SequenceEqual(baseFile.GetBytes(t.Name).ToArray()), Is.EqualTo(!adapted), $"{t.Name}: {(adapted ? "merged" : "copied")}");
        }
        // Each output shard holds exactly the base shard's tensors, in the base shard's order; the index maps the same.
        foreach (var group in Layout.GroupBy(t => t.Shard))
        {
            using var shardOut = SafetensorsFile.Open(Path.Combine(PathOf("out"), group.Key));
            Assert.That(shardOut.Tensors.Select(t => t.Name), Is.EqualTo(group.Reverse().Select(t => t.Name)));
            Assert.That(shardOut.Metadata["format"], Is.EqualTo("pt"));
        }
        using var doc = JsonDocument.Parse(File.ReadAllText(outIndex));
        var map = doc.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        Assert.That(map, Is.EquivalentTo(Layout.ToDictionary(t => t.Name, t => (string?)t.Shard)));
        var total = Layout.Sum(t => t.Shape.Aggregate(1L, (a, d) => a * d) * SafetensorsDTypes.SizeOf(t.DType));
        Assert.That(doc.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64(), Is.EqualTo(total));
        Assert.That(Directory.GetFileSystemEntries(PathOf("out")).Select(Path.GetFileName),
            Is.EquivalentTo(Layout.Select(t => t.Shard).Distinct().Append("model.safetensors.index.json")), "no staging left behind");
    }

    private void AssertOneLine(CliRun run, string mentions)
    {
        Assert.That(run.ExitCode, Is.EqualTo(1), run.Out);
        Assert.That(run.Err.TrimEnd('\r', '\n').Split('\n'), Has.Length.EqualTo(1), run.Err);
        Assert.That(run.Err, Does.Contain(mentions));
    }

    [Test]
    public void ShardedMergeRefusesWhatWouldLoseData()
    {
        var rand = new Rand();
        var (single, index) = WriteBase(rand);
        var adapter = WriteAdapter(rand, ("model.layers.0.q_proj", 24, 16, 3));
        AssertOneLine(Sara("merge", index, adapter, "-o", Path.Combine(PathOf("sharded"), "merged.safetensors.index.json"), "--device", "cpu"),
            "is in the base's folder");
        AssertOneLine(Sara("merge", index, adapter, "-o", PathOf("merged.safetensors"), "--device", "cpu"), "must be an index .json too");
        AssertOneLine(Sara("merge", single, adapter, "-o", PathOf("out.safetensors.index.json"), "--device", "cpu"), "the output keeps the base's layout");
        var extra = WriteAdapter(rand, ("model.layers.0.q_proj", 24, 16, 3), ("model.layers.7.q_proj", 24, 16, 2));
        var run = Sara("merge", index, extra, "-o", Path.Combine(PathOf("out"), "model.safetensors.index.json"), "--device", "cpu");
        Assert.That(run.ExitCode, Is.EqualTo(1));
        Assert.That(run.Err, Does.Contain("extra layer 'model.layers.7.q_proj'"));
        Assert.That(Directory.Exists(PathOf("out")) ? Directory.GetFileSystemEntries(PathOf("out")) : [], Is.Empty, "nothing written");
    }
}
