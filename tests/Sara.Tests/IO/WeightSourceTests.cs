// Weight selection from safetensors: 2-D as out x in, 4-D conv as out x (in*kh*kw), 1-D skipped, glob/regex filters.
using Sara.Native.IO;

namespace Sara.Tests.IO;

public sealed class WeightSourceTests : IoTestBase
{
    private readonly Dictionary<string, float[]> _data = new();

    private string WriteModel()
    {
        var rng = new Random(31);
        var tensors = new (string Name, SafetensorsDType DType, long[] Shape)[]
        {
            ("model.layers.0.self_attn.q_proj.weight", SafetensorsDType.BF16, [6, 8]),
            ("model.layers.0.self_attn.q_proj.bias", SafetensorsDType.F32, [6]),
            ("model.layers.0.mlp.up_proj.weight", SafetensorsDType.F16, [12, 8]),
            ("model.layers.1.self_attn.q_proj.weight", SafetensorsDType.F32, [6, 8]),
            ("model.norm.weight", SafetensorsDType.F32, [8]),
            ("conv.stem.weight", SafetensorsDType.F32, [4, 3, 2, 5]),
            ("experts.stacked", SafetensorsDType.F32, [2, 3, 4]),
            ("scalar.temperature", SafetensorsDType.F32, []),
        };
        var w = new SafetensorsWriter();
        foreach (var (name, dtype, shape) in tensors)
        {
            var data = SafetensorsRoundTripTests.TestValues(rng, (int)shape.Aggregate(1L, (a, d) => a * d))
                .Select(v => float.IsFinite(v) ? v : 1.5f).ToArray();
            _data[name] = data.Select(v => FloatRoundingOracle.Stored(dtype, v)).ToArray();
            w.Add(name, dtype, shape, data);
        }
        string path = FilePath("model.safetensors");
        w.Save(path);
        return path;
    }

    [Test]
    public void ListsMatricesWithTheirShapesAndSkipsTheRest()
    {
        using var source = WeightSource.Open(WriteModel());
        foreach (var m in source.Matrices) TestContext.Out.WriteLine(m);
        Assert.That(source.Matrices.Select(m => (m.Name, m.Rows, m.Cols, m.Layout)), Is.EqualTo(new[]
        {
            ("model.layers.0.self_attn.q_proj.weight", 6, 8, WeightLayout.Linear),
            ("model.layers.0.mlp.up_proj.weight", 12, 8, WeightLayout.Linear),
            ("model.layers.1.self_attn.q_proj.weight", 6, 8, WeightLayout.Linear),
            ("conv.stem.weight", 4, 30, WeightLayout.Conv),
        }));
        var skipped = source.Skipped.ToDictionary(s => s.Name, s => s.Reason);
        Assert.That(skipped["model.layers.0.self_attn.q_proj.bias"], Does.Contain("1-D"));
        Assert.That(skipped["model.norm.weight"], Does.Contain("1-D"));
        Assert.That(skipped["experts.stacked"], Does.Contain("3-D"));
        Assert.That(skipped["scalar.temperature"], Is.EqualTo("scalar"));
    }

    [Test]
    public void LoadReturnsTheStoredValuesRowMajor()
    {
        using var source = WeightSource.Open(WriteModel());
        foreach (var m in source.Matrices)
        {
            float[] loaded = m.Load();
            Assert.That(loaded, Has.Length.EqualTo(m.Rows * m.Cols));
            Assert.That(loaded, Is.EqualTo(_data[m.Name]), m.Name);
        }
    }

    [Test]
    public void ConvReshapeKeepsEachOutputChannelInItsRow()
    {
        using var source = WeightSource.Open(WriteModel());
        var conv = source.Matrices.Single(m => m.Layout == WeightLayout.Conv);
        float[] matrix = conv.Load();
        float[] stored = _data["conv.stem.weight"];
        // element [o, c, y, x] of the 4 x 3 x 2 x 5 tensor is at row o, column (c*2 + y)*5 + x
        for (int o = 0; o < 4; o++)
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 2; y++)
                    for (int x = 0; x < 5; x++)
                        Assert.That(matrix[o * 30 + (c * 2 + y) * 5 + x], Is.EqualTo(stored[((o * 3 + c) * 2 + y) * 5 + x]));
    }

    [TestCase("*q_proj.weight", new[] { "model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.q_proj.weight" })]
    [TestCase("model.layers.?.mlp.*", new[] { "model.layers.0.mlp.up_proj.weight" })]
    [TestCase(@"re:layers\.1\.", new[] { "model.layers.1.self_attn.q_proj.weight" })]
    [TestCase("re:^conv", new[] { "conv.stem.weight" })]
    [TestCase("q_proj", new string[0])]
    public void IncludeFilterSelects(string pattern, string[] expected)
    {
        using var source = WeightSource.Open(WriteModel(), WeightFilter.Parse(include: [pattern]));
        Assert.That(source.Matrices.Select(m => m.Name), Is.EqualTo(expected));
        Assert.That(source.Skipped.Count(s => s.Reason == "not selected by the filter"), Is.GreaterThan(0));
    }

    [Test]
    public void ExcludeWinsOverInclude()
    {
        var filter = WeightFilter.Parse(include: ["model.*"], exclude: ["*.layers.0.*", "re:mlp"]);
        using var source = WeightSource.Open(WriteModel(), filter);
        Assert.That(source.Matrices.Select(m => m.Name), Is.EqualTo(new[] { "model.layers.1.self_attn.q_proj.weight" }));
    }

    [Test]
    public void BadPatternsAndPathsAreArgumentErrors()
    {
        var e = Assert.Throws<ArgumentException>(() => WeightPattern.Parse("re:(unclosed"));
        Assert.That(e!.Message, Does.Contain("(unclosed"));
        Assert.Throws<ArgumentException>(() => WeightSource.Open(FilePath("weights.bin")));
    }

    [Test]
    public void GlobEscapesRegexCharacters()
    {
        var p = WeightPattern.Glob("a.b[0]*");
        Assert.That(p.IsMatch("a.b[0].weight"), Is.True);
        Assert.That(p.IsMatch("axb[0].weight"), Is.False);
        Assert.That(p.IsMatch("xa.b[0]"), Is.False);
    }
}
