// Adapter files: SARA and Mo-SARA round trips, bad adapter files, and the one-message base-shape validation.
using Sara.Native.IO;

namespace Sara.Tests.IO;

public sealed class AdapterFileTests : IoTestBase
{
    private static float[] Rand(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

    private static AdapterFile MakeSara(Random rng)
    {
        var adapter = new AdapterFile(AdapterMetadata.Create(AdapterMethod.Sara, "SumFraction", 0.35, 1.0));
        adapter.AddLayer(AdapterLayer.Sara("model.layers.0.q_proj", 8, 6, Rand(rng, 3), Rand(rng, 8 * 3), Rand(rng, 3 * 6)));
        adapter.AddLayer(AdapterLayer.Sara("model.layers.0.v_proj", 5, 6, Rand(rng, 2), Rand(rng, 5 * 2), Rand(rng, 2 * 6)));
        return adapter;
    }

    private static AdapterFile MakeMoSara(Random rng, int experts)
    {
        var adapter = new AdapterFile(AdapterMetadata.Create(AdapterMethod.MoSara, "EnergyFraction", 0.9, 2.5, experts));
        int m = 7, n = 4, k = 3;
        adapter.AddLayer(AdapterLayer.MoSara("blk.fc1", m, n, k, Rand(rng, experts * k), Rand(rng, experts * k), Rand(rng, experts), Rand(rng, m * k), Rand(rng, k * n)));
        return adapter;
    }

    private static void AssertSameAdapter(AdapterFile expected, AdapterFile actual, SafetensorsDType dtype)
    {
        Assert.That(actual.Metadata, Is.EqualTo(expected.Metadata));
        Assert.That(actual.Layers.Select(l => (l.Name, l.K, l.M, l.N)), Is.EqualTo(expected.Layers.Select(l => (l.Name, l.K, l.M, l.N))));
        foreach (var layer in expected.Layers)
        {
            var got = actual[layer.Name];
            Assert.That(got.Tensors.Keys, Is.EquivalentTo(layer.Tensors.Keys));
            foreach (var (key, t) in layer.Tensors)
            {
                Assert.That(got.Tensors[key].Shape, Is.EqualTo(t.Shape), $"{layer.Name}.{key}");
                SafetensorsRoundTripTests.AssertStored(dtype, t.Data, got.Tensors[key].Data);
            }
        }
    }

    [TestCase(SafetensorsDType.F32)]
    [TestCase(SafetensorsDType.BF16)]
    public void SaraRoundTrip(SafetensorsDType dtype)
    {
        var adapter = MakeSara(new Random(51));
        string path = FilePath("sara.safetensors");
        adapter.Save(path, dtype);
        AssertSameAdapter(adapter, AdapterFile.Load(path), dtype);

        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Metadata["format"], Is.EqualTo("sara-adapter"));
        Assert.That(file.Metadata["method"], Is.EqualTo("sara"));
        Assert.That(file.Metadata["tau"], Is.EqualTo("0.35"));
        Assert.That(file.Metadata["layers"], Does.Contain("\"model.layers.0.q_proj\":{\"k\":3,\"m\":8,\"n\":6}"));
        Assert.That(file.GetInfo("model.layers.0.q_proj.A").Shape, Is.EqualTo(new long[] { 8, 3 }));
        Assert.That(file.GetInfo("model.layers.0.q_proj.B").Shape, Is.EqualTo(new long[] { 3, 6 }));
        Assert.That(file.GetInfo("model.layers.0.q_proj.lambda").Shape, Is.EqualTo(new long[] { 3 }));
    }

    [Test]
    public void MoSaraRoundTrip()
    {
        var adapter = MakeMoSara(new Random(52), experts: 4);
        string path = FilePath("mosara.safetensors");
        adapter.Save(path);
        var loaded = AdapterFile.Load(path);
        AssertSameAdapter(adapter, loaded, SafetensorsDType.F32);
        Assert.That(loaded.Metadata.Experts, Is.EqualTo(4));
        Assert.That(loaded["blk.fc1"].Tensors["Lambda"].Shape, Is.EqualTo(new[] { 4, 3 }));
        Assert.That(loaded["blk.fc1"].Tensors["bg"].Shape, Is.EqualTo(new[] { 4 }));
    }

    [Test]
    public void ValidateAgainstBaseListsEveryMismatch()
    {
        var adapter = MakeSara(new Random(53));
        adapter.AddLayer(AdapterLayer.Sara("lm_head", 10, 6, Rand(new Random(1), 2), Rand(new Random(2), 20), Rand(new Random(3), 12)));
        var baseShapes = new Dictionary<string, (int Rows, int Cols)>
        {
            ["model.layers.0.q_proj"] = (8, 6),      // matches
            ["model.layers.0.v_proj"] = (6, 5),      // transposed: differs
            ["model.layers.0.k_proj"] = (5, 6),      // not in the adapter
        };
        var e = Assert.Throws<AdapterMismatchException>(() => adapter.ValidateAgainstBase(baseShapes));
        TestContext.Out.WriteLine(e!.Message);
        Assert.That(e.Problems, Has.Count.EqualTo(3));
        Assert.That(e.Message, Does.Contain("layer 'model.layers.0.v_proj': shape differs: expected 6 x 5 (base), got 5 x 6 (adapter)"));
        Assert.That(e.Message, Does.Contain("extra layer 'lm_head' (10 x 6)"));
        Assert.That(e.Message, Does.Contain("missing layer 'model.layers.0.k_proj' (5 x 6)"));
        Assert.That(e.ParamName, Is.EqualTo("baseShapes"));

        var lenient = Assert.Throws<AdapterMismatchException>(() => adapter.ValidateAgainstBase(baseShapes, allowUnadaptedBaseLayers: true));
        Assert.That(lenient!.Problems, Has.Count.EqualTo(2));
    }

    [Test]
    public void ValidateAgainstMatchingBasePasses()
    {
        var adapter = MakeSara(new Random(54));
        var baseShapes = adapter.Layers.ToDictionary(l => l.Name, l => (l.M, l.N));
        Assert.DoesNotThrow(() => adapter.ValidateAgainstBase(baseShapes));
        baseShapes["unadapted.layer"] = (3, 3);
        Assert.DoesNotThrow(() => adapter.ValidateAgainstBase(baseShapes, allowUnadaptedBaseLayers: true));
    }

    [Test]
    public void AddLayerRejectsWrongShapesAndMethod()
    {
        var rng = new Random(55);
        var sara = new AdapterFile(AdapterMetadata.Create(AdapterMethod.Sara, "SumFraction", 0.5, 1));
        var e = Assert.Throws<ArgumentException>(() => sara.AddLayer(new AdapterLayer("l", 2, 4, 4, new Dictionary<string, AdapterTensor>
        {
            ["lambda"] = new([2], Rand(rng, 2)), ["A"] = new([4, 3], Rand(rng, 12)), ["B"] = new([2, 4], Rand(rng, 8)),
        })));
        Assert.That(e!.Message, Does.Contain("'l.A' has shape [4, 3], expected [4, 2]"));
        var mo = MakeMoSara(rng, 2).Layers[0];
        Assert.That(Assert.Throws<ArgumentException>(() => sara.AddLayer(mo))!.Message, Does.Contain("'blk.fc1.lambda' is missing"));
        Assert.Throws<ArgumentOutOfRangeException>(() => AdapterMetadata.Create(AdapterMethod.Sara, "SumFraction", 1.5, 1).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdapterFile(AdapterMetadata.Create(AdapterMethod.MoSara, "SumFraction", 0.5, 1, experts: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => AdapterLayer.Sara("big", 2, 2, Rand(rng, 3), Rand(rng, 6), Rand(rng, 6)));
    }

    [Test]
    public void PlainSafetensorsIsNotAnAdapter()
    {
        string path = FilePath("plain.safetensors");
        new SafetensorsWriter().Add("w", [2], new float[] { 1, 2 }).Save(path);
        var e = Assert.Throws<SafetensorsFormatException>(() => AdapterFile.Load(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("'format' is absent"));
    }

    [Test]
    public void AdapterFileWithMissingOrStrayTensorNamesIt()
    {
        string good = FilePath("good.safetensors");
        MakeSara(new Random(56)).Save(good);
        using var src = SafetensorsFile.Open(good);

        // Copy everything but one tensor.
        string missing = FilePath("missing.safetensors");
        Rewrite(src, missing, skip: "model.layers.0.v_proj.B", extra: null);
        var e1 = Assert.Throws<SafetensorsFormatException>(() => AdapterFile.Load(missing));
        Assert.That(e1!.TensorName, Is.EqualTo("model.layers.0.v_proj.B"));
        Assert.That(e1.Message, Does.Contain(missing));

        string stray = FilePath("stray.safetensors");
        Rewrite(src, stray, skip: null, extra: "model.layers.9.o_proj.A");
        var e2 = Assert.Throws<SafetensorsFormatException>(() => AdapterFile.Load(stray));
        Assert.That(e2!.TensorName, Is.EqualTo("model.layers.9.o_proj.A"));
        Assert.That(e2.Problem, Does.Contain("no layer"));
    }

    [Test]
    public void NewerFormatVersionIsRefused()
    {
        string good = FilePath("good.safetensors");
        MakeSara(new Random(57)).Save(good);
        using var src = SafetensorsFile.Open(good);
        string newer = FilePath("newer.safetensors");
        Rewrite(src, newer, null, null, ("format_version", "2"));
        var e = Assert.Throws<SafetensorsFormatException>(() => AdapterFile.Load(newer));
        Assert.That(e!.Message, Does.Contain("format_version 2"));
    }

    private static void Rewrite(SafetensorsFile src, string path, string? skip, string? extra, (string Key, string Value)? meta = null)
    {
        var w = new SafetensorsWriter();
        foreach (var (k, v) in src.Metadata) w.Metadata[k] = v;
        if (meta is { } m) w.Metadata[m.Key] = m.Value;
        foreach (var t in src.Tensors.Where(t => t.Name != skip)) w.Add(t.Name, t.DType, t.Shape, src.ReadFloats(t.Name));
        if (extra is not null) w.Add(extra, [2, 2], new float[] { 1, 2, 3, 4 });
        w.Save(path);
    }
}
