// Malformed inputs of issue 16 that were accepted quietly or failed as internal errors: each is now a format error
// naming the file and the tensor (safetensors, adapter metadata) or the initializer (ONNX).
using System.Text;
using Google.Protobuf;
using Onnx;
using Sara.Native.IO;
using Sara.Tests.Support;

namespace Sara.Tests.IO;

public sealed class StrictInputTests : IoTestBase
{
    private string Raw(string header, int dataBytes, string name = "t.safetensors")
    {
        var path = FilePath(name);
        RawSafetensors.Write(path, header, new byte[dataBytes]);
        return path;
    }

    private static SafetensorsFormatException OpenFails(string path)
    {
        var e = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path).Dispose());
        TestContext.Out.WriteLine(e!.Message);
        Assert.That(e.Message, Does.StartWith(path + ": "));
        return e;
    }

    // ---- safetensors header: strict JSON ----

    [Test]
    public void LoneSurrogateInATensorNameIsAFormatError()
    {
        var e = OpenFails(Raw("""{"w\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4));
        Assert.That(e.Problem, Does.Contain("unpaired surrogate"));
    }

    [Test]
    public void LoneSurrogateInAMetadataValueIsAFormatError()
    {
        var e = OpenFails(Raw("""{"__metadata__":{"note":"a\udc00b"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4));
        Assert.That(e.Problem, Does.Contain("'note'").And.Contain("unpaired surrogate"));
    }

    [TestCase("dtype", """{"w":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}}""")]
    [TestCase("shape", """{"w":{"dtype":"F32","shape":[2],"shape":[4],"data_offsets":[0,8]}}""")]
    [TestCase("data_offsets", """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"data_offsets":[0,8]}}""")]
    public void DuplicateKeyInsideATensorEntryIsAFormatError(string key, string header)
    {
        var e = OpenFails(Raw(header, 8));
        Assert.That(e.TensorName, Is.EqualTo("w"));
        Assert.That(e.Problem, Does.Contain($"duplicate key '{key}'"));
    }

    [Test]
    public void ControlCharactersInAFormatErrorAreEscaped()
    {
        var e = OpenFails(Raw("{\"a\\u001b[2Jb\":{\"dtype\":\"F7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8));
        Assert.That(e.Message.Contains('\u001b'), Is.False);
        Assert.That(e.Message, Does.Contain("a\\x1b[2Jb"));
        Assert.That(e.TensorName, Is.EqualTo("a\u001b[2Jb"), "the exception keeps the real name for programs");
    }

    // ---- adapter metadata: documented values only ----

    private string AdapterWith(string key, string value)
    {
        var path = FilePath("adapter.safetensors");
        var rand = new Rand(2);
        new AdapterFile(AdapterMetadata.Create(AdapterMethod.Sara, "SumFraction", 0.25, 1.0))
            .AddLayer(AdapterLayer.Sara("fc", 6, 5, rand.Normal(2), rand.Normal(12), rand.Normal(10))).Save(path);
        using var file = SafetensorsFile.Open(path);
        var writer = new SafetensorsWriter();
        foreach (var (k, v) in file.Metadata) writer.Metadata[k] = v;
        writer.Metadata[key] = value;
        foreach (var t in file.Tensors) writer.AddRaw(t.Name, t.DType, t.Shape, file.GetBytes(t.Name).ToArray());
        var rewritten = FilePath("rewritten.safetensors");
        writer.Save(rewritten);
        return rewritten;
    }

    [TestCase("criterion", "bogus", "criterion 'bogus'")]
    [TestCase("criterion", "sumfraction", "criterion 'sumfraction'")]
    [TestCase("format_version", " 1", "format_version")]
    [TestCase("format_version", "01", "format_version")]
    [TestCase("experts", "+0", "experts")]
    [TestCase("tau", " 0.25", "tau")]
    [TestCase("scale", "1,5", "scale")]
    [TestCase("scale", "Infinity", "scale")]
    [TestCase("layers", """{"fc":{"k":2,"m":6,"n":5},"fc":{"k":2,"m":6,"n":5}}""", "duplicate key 'fc'")]
    [TestCase("layers", """{"fc":{"k":2,"m":6,"n":5,"k":1}}""", "duplicate key 'k'")]
    public void AdapterMetadataOutsideItsDocumentedValuesIsRefused(string key, string value, string mentions)
    {
        var path = AdapterWith(key, value);
        var e = Assert.Throws<SafetensorsFormatException>(() => AdapterFile.Load(path));
        TestContext.Out.WriteLine(e!.Message);
        Assert.That(e.Message, Does.Contain(mentions));
    }

    [Test]
    public void TheUnmodifiedAdapterLoads() => Assert.That(AdapterFile.Load(AdapterWith("note", "x")).Layers, Has.Count.EqualTo(1));

    // ---- ONNX: dims, external data fields, confinement, FIFOs ----

    private string Onnx(TensorProto tensor, string folder, string name = "model.onnx")
    {
        var graph = new GraphProto { Name = "g" };
        graph.Initializer.Add(tensor);
        graph.Node.Add(new NodeProto { OpType = "MatMul", Input = { "x", tensor.Name }, Output = { "y" } });
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name);
        File.WriteAllBytes(path, new ModelProto { IrVersion = 8, Graph = graph }.ToByteArray());
        return path;
    }

    private static TensorProto External(string location, string? offset = null, string? length = null, long[]? dims = null)
    {
        var t = new TensorProto { Name = "w", DataType = 1, Dims = { dims ?? [4, 3] }, DataLocation = TensorProto.Types.DataLocation.External };
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        if (offset is not null) t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset });
        if (length is not null) t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length });
        return t;
    }

    /// <summary>Every way of reading the model: open it, list its weights, load each one. Returns the first error.</summary>
    private static Exception? ReadAll(string path)
    {
        try
        {
            using var source = WeightSource.Open(path);
            foreach (var m in source.Matrices) m.Load();
            return null;
        }
        catch (Exception e)
        {
            TestContext.Out.WriteLine($"{e.GetType().Name}: {e.Message}");
            return e;
        }
    }

    private static void AssertUserError(Exception? e, params string[] mentions)
    {
        Assert.That(e, Is.InstanceOf<IOException>().Or.InstanceOf<InvalidDataException>(), "a format error, not an internal one");
        foreach (var m in mentions) Assert.That(e!.Message, Does.Contain(m));
    }

    [TestCase(new long[] { 384, -384 }, "negative dimension")]
    [TestCase(new long[] { 4294967296, 4294967296 }, "more elements than a file can")]
    [TestCase(new long[] { 4611686018427387904, 4 }, "more elements than a file can")]
    public void OnnxDimsThatCannotBeAreFormatErrors(long[] dims, string problem)
    {
        var t = new TensorProto { Name = "w", DataType = 1, Dims = { dims } };
        AssertUserError(ReadAll(Onnx(t, Folder)), "'w'", problem);
    }

    [TestCase("abc", null, "'offset' = 'abc'")]
    [TestCase("-4", null, "'offset' = '-4'")]
    [TestCase(null, "99999999999999999999", "'length' = '99999999999999999999'")]
    [TestCase("9223372036854775807", null, "runs past the end")]
    public void OnnxExternalOffsetOrLengthThatIsNotANumberOfBytesIsAFormatError(string? offset, string? length, string problem)
    {
        File.WriteAllBytes(FilePath("data.bin"), new byte[48]);
        AssertUserError(ReadAll(Onnx(External("data.bin", offset, length), Folder)), "'w'", problem);
    }

    [Test]
    public void OnnxExternalDataThroughASymlinkOutOfTheFolderIsRefused()
    {
        var outside = FilePath("secret.bin");
        File.WriteAllBytes(outside, new byte[48]);
        var modelFolder = FilePath("model");
        var model = Onnx(External("data.bin"), modelFolder);
        File.CreateSymbolicLink(Path.Combine(modelFolder, "data.bin"), outside);
        AssertUserError(ReadAll(model), "'w'", "outside the model's folder");
    }

    [Test]
    public void OnnxExternalDataPathOutOfTheFolderIsRefused()
    {
        File.WriteAllBytes(FilePath("secret.bin"), new byte[48]);
        AssertUserError(ReadAll(Onnx(External("../secret.bin"), FilePath("model"))), "outside the model's folder");
    }

    [Test]
    public void OnnxModelAndDataLinkedFromACacheFolderAreRead()
    {
        // The Hugging Face cache layout: the model folder holds links into a blobs folder that holds both files.
        var blobs = FilePath("blobs");
        var model = Onnx(External("data.bin"), blobs, "model-blob");
        var data = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();
        File.WriteAllBytes(Path.Combine(blobs, "data.bin"), data.SelectMany(BitConverter.GetBytes).ToArray());
        var snapshot = FilePath("snapshot");
        Directory.CreateDirectory(snapshot);
        File.CreateSymbolicLink(Path.Combine(snapshot, "model.onnx"), model);
        using var source = WeightSource.Open(Path.Combine(snapshot, "model.onnx"));
        Assert.That(source.Matrices.Single().Load().Length, Is.EqualTo(12));
    }

    [Test]
    public void OnnxExternalDataThatIsAFifoIsRefusedWithoutHanging()
    {
        var model = Onnx(External("data.bin"), Folder);
        var fifo = HostileFiles.Fifo(FilePath("data.bin"));
        var e = HostileFiles.FinishesWithin(20, fifo, () => ReadAll(model));
        AssertUserError(e, "FIFO");
    }

    [Test]
    public void OnnxModelThatIsAFifoIsRefusedWithoutHanging()
    {
        var fifo = HostileFiles.Fifo(FilePath("model.onnx"));
        var e = HostileFiles.FinishesWithin(20, fifo, () => ReadAll(fifo));
        AssertUserError(e, "FIFO");
    }

    [Test]
    public void ShardIndexThatIsAFifoIsRefusedWithoutHanging()
    {
        var fifo = HostileFiles.Fifo(FilePath("model.safetensors.index.json"));
        var e = HostileFiles.FinishesWithin(20, fifo, () => ReadAll(fifo));
        AssertUserError(e, "FIFO");
    }
}
