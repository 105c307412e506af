// PEFT-style module targeting, ONNX weights named by their module, and positioned (non-mapped) tensor reads.
using Sara.Native.IO;
using Sara.Tests.Support;

namespace Sara.Tests.IO;

public sealed class ModuleTargetingTests : IoTestBase
{
    private static readonly string[] Names =
    [
        "model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.v_proj.weight",
        "model.layers.0.mlp.down_proj.weight", "model.layers.10.self_attn.q_proj.weight", "lm_head.weight", "transformer.wte.weight",
        "output.weight", "gpt_neox.embed_out.weight", "encoder.layer.0.output.dense.weight", "conv1.weight",
    ];

    private WeightSource Source()
    {
        var writer = new SafetensorsWriter();
        foreach (var name in Names) writer.Add(name, name == "conv1.weight" ? [4, 2, 3, 3] : [6, 4], new float[name == "conv1.weight" ? 72 : 24]);
        var path = FilePath("m.safetensors");
        writer.Save(path);
        return WeightSource.Open(path);
    }

    private List<string> Selected(ModuleTargets targets)
    {
        using var source = Source();
        return source.Matrices.Where(m => targets.SkipReason(m) is null).Select(m => m.Module).ToList();
    }

    [Test]
    public void TheDefaultLeavesOutEmbeddingsAndHeads()
    {
        using var source = Source();
        var reasons = source.Matrices.ToDictionary(m => m.Module, m => ModuleTargets.Default.SkipReason(m));
        Assert.That(reasons["model.embed_tokens"], Is.EqualTo("embedding (excluded by default)"));
        Assert.That(reasons["transformer.wte"], Is.EqualTo("embedding (excluded by default)"));
        Assert.That(reasons["lm_head"], Is.EqualTo("output head (excluded by default)"));
        Assert.That(reasons["output"], Is.EqualTo("output head (excluded by default)"));
        Assert.That(reasons["gpt_neox.embed_out"], Is.EqualTo("output head (excluded by default)"));
        Assert.That(reasons["encoder.layer.0.output.dense"], Is.Null, "a block's 'output' projection is no head");
        Assert.That(reasons["conv1"], Is.Null);
        Assert.That(reasons.Count(kv => kv.Value is null), Is.EqualTo(6));
    }

    [Test]
    public void TargetsMatchNameSuffixesOrWholeNameRegexes()
    {
        Assert.That(Selected(ModuleTargets.Parse(["q_proj"], null)),
            Is.EqualTo(new[] { "model.layers.0.self_attn.q_proj", "model.layers.10.self_attn.q_proj" }));
        Assert.That(Selected(ModuleTargets.Parse(["self_attn.v_proj,lm_head"], null)), Is.EqualTo(new[] { "model.layers.0.self_attn.v_proj", "lm_head" }));
        Assert.That(Selected(ModuleTargets.Parse(["proj"], null)), Is.Empty, "a suffix matches whole name parts only");
        Assert.That(Selected(ModuleTargets.Parse([@"re:model\.layers\.1\d\..*"], null)), Is.EqualTo(new[] { "model.layers.10.self_attn.q_proj" }));
        Assert.That(Selected(ModuleTargets.Parse(["re:q_proj"], null)), Is.Empty, "a regex must match the whole name, as PEFT's re.fullmatch");
        Assert.That(Selected(ModuleTargets.Parse(["all-linear"], null)), Is.EqualTo(new[]
        {
            "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.0.mlp.down_proj",
            "model.layers.10.self_attn.q_proj", "encoder.layer.0.output.dense",
        }));
        Assert.That(Selected(ModuleTargets.Parse(["all-linear"], ["q_proj", "re:.*down.*"])),
            Is.EqualTo(new[] { "model.layers.0.self_attn.v_proj", "encoder.layer.0.output.dense" }));
        Assert.That(Selected(ModuleTargets.Parse(["q_proj"], ["layers.10.self_attn.q_proj"])), Is.EqualTo(new[] { "model.layers.0.self_attn.q_proj" }));
    }

    [Test]
    public void BadTargetsAreArgumentErrors()
    {
        Assert.Throws<ArgumentException>(() => ModuleTargets.Parse(["all-linear,q_proj"], null));
        Assert.Throws<ArgumentException>(() => ModuleTargets.Parse(["q_proj,,v_proj"], null));
        Assert.That(Assert.Throws<ArgumentException>(() => ModuleTargets.Parse(["re:(unclosed"], null))!.Message, Does.Contain("(unclosed"));
        Assert.That(ModuleTargets.Parse(["q_proj", "q_proj,v_proj"], ["x"]).ToString(), Is.EqualTo("--target-modules q_proj,v_proj --exclude-modules x"));
    }

    [Test]
    public void MiniLmWeightsAreNamedByTheirModules()
    {
        using var source = WeightSource.Open(MiniLmModel.Path);
        var byName = source.Matrices.ToDictionary(m => m.Name);
        // torch.onnx stores Linear weights of MatMul nodes under bare numbers; the bias beside them names the module.
        var q = byName["encoder.layer.0.attention.self.query.weight"];
        Assert.That((q.StoredName, q.Rows, q.Cols, q.Layout), Is.EqualTo(("927", 384, 384, WeightLayout.LinearTransposed)));
        Assert.That(byName["encoder.layer.5.intermediate.dense.weight"].StoredName, Is.EqualTo("1003"));
        Assert.That((byName["encoder.layer.5.output.dense.weight"].Rows, byName["encoder.layer.5.output.dense.weight"].Cols), Is.EqualTo((384, 1536)));
        Assert.That(source.Matrices.Count(m => m.Name.All(char.IsAsciiDigit)), Is.Zero, "no weight is listed under a bare number");
        Assert.That(byName["embeddings.word_embeddings.weight"].IsEmbeddingTable, Is.True);
        var selected = source.Matrices.Where(m => ModuleTargets.Default.SkipReason(m) is null).ToList();
        Assert.That(selected, Has.Count.EqualTo(37));
        Assert.That(selected.Select(m => m.Name), Has.None.Contains("embeddings"));
        // The stored name still selects through --include.
        using var one = WeightSource.Open(MiniLmModel.Path, WeightFilter.Parse(["927"]));
        Assert.That(one.Matrices.Select(m => m.Name), Is.EqualTo(new[] { "encoder.layer.0.attention.self.query.weight" }));
    }

    [TestCase(SafetensorsDType.BF16), TestCase(SafetensorsDType.F16), TestCase(SafetensorsDType.F32)]
    public void LoadingIntoASpanEqualsLoadingAnArray(SafetensorsDType dtype)
    {
        var rand = new Rand();
        var writer = new SafetensorsWriter();
        writer.Add("first", dtype, [3, 5], rand.Normal(15));
        writer.Add("big", dtype, [301, 531], rand.Normal(301L * 531));   // several conversion chunks and a SIMD tail
        var path = FilePath("t.safetensors");
        writer.Save(path);
        using var source = WeightSource.Open(path);
        foreach (var m in source.Matrices)
        {
            var into = Enumerable.Repeat(float.NaN, m.Rows * m.Cols).ToArray();
            m.Load(into);
            Assert.That(into, Is.EqualTo(m.Load()), m.Name);
        }
        Assert.Throws<ArgumentException>(() => source.Matrices[0].Load(new float[3]));
    }

    [Test]
    public void TheVectorisedBFloat16DecodeIsTheBitShift()
    {
        var rand = new Rand();
        foreach (var count in new[] { 1, 15, 16, 17, 33, 1000 })
        {
            var bytes = new byte[2 * count];
            for (var i = 0; i < bytes.Length; i++) bytes[i] = (byte)rand.Int(0, 256);
            var got = new float[count];
            FloatConversions.Decode(SafetensorsDType.BF16, bytes, got);
            for (var i = 0; i < count; i++)
                Assert.That(BitConverter.SingleToUInt32Bits(got[i]), Is.EqualTo((uint)(bytes[2 * i] | bytes[2 * i + 1] << 8) << 16), $"{count}: element {i}");
        }
    }
}
