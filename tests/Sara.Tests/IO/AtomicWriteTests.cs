// A save that fails part way must leave the previous file byte-for-byte intact and no temp file behind.
using Sara.Native.IO;

namespace Sara.Tests.IO;

public sealed class AtomicWriteTests : IoTestBase
{
    private string WriteOriginal(out byte[] bytes)
    {
        string path = FilePath("model.safetensors");
        var data = SafetensorsRoundTripTests.TestValues(new Random(9), 6);
        new SafetensorsWriter().Add("w", [2, 3], data).Save(path);
        bytes = File.ReadAllBytes(path);
        return path;
    }

    [Test]
    public void ProducerThatThrowsLeavesOldFileIntact()
    {
        string path = WriteOriginal(out var before);
        var writer = new SafetensorsWriter()
            .Add("first", [1000], new float[1000])
            .AddLazy("second", SafetensorsDType.F32, [4], () => throw new InvalidOperationException("disk full (simulated)"));
        var e = Assert.Throws<InvalidOperationException>(() => writer.Save(path));
        Assert.That(e!.Message, Does.Contain("simulated"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
        Assert.That(Directory.GetFiles(Folder), Is.EqualTo(new[] { path }), "no temporary file may remain");
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Tensors.Single().Name, Is.EqualTo("w"));
    }

    [Test]
    public void ProducerWithWrongLengthLeavesOldFileIntact()
    {
        string path = WriteOriginal(out var before);
        var writer = new SafetensorsWriter().AddLazy("w2", SafetensorsDType.BF16, [3, 3], () => new float[8]);
        var e = Assert.Throws<InvalidOperationException>(() => writer.Save(path));
        Assert.That(e!.Message, Does.Contain("'w2'").And.Contain("9"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
        Assert.That(Directory.GetFiles(Folder), Has.Length.EqualTo(1));
    }

    [Test]
    public void SuccessfulSaveReplacesTheFile()
    {
        string path = WriteOriginal(out _);
        var fresh = SafetensorsRoundTripTests.TestValues(new Random(10), 4);
        new SafetensorsWriter().AddLazy("v", SafetensorsDType.F32, [4], () => fresh).Save(path);
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Tensors.Select(t => t.Name), Is.EqualTo(new[] { "v" }));
        SafetensorsRoundTripTests.AssertStored(SafetensorsDType.F32, fresh, file.ReadFloats("v"));
        Assert.That(Directory.GetFiles(Folder), Has.Length.EqualTo(1));
    }

    [Test]
    public void WriteAllReplacesEveryFileOrNone()
    {
        string first = WriteOriginal(out var before);
        string second = FilePath("index.json");
        File.WriteAllText(second, "old index");
        // The second write fails: neither target changes (the first was complete but not yet renamed), no temporaries remain.
        var e = Assert.Throws<IOException>(() => AtomicFile.WriteAll([
            (first, s => new SafetensorsWriter().Add("v", [2], new float[] { 1, 2 }).WriteTo(s)),
            (second, _ => throw new IOException("disk full (simulated)")),
        ]));
        Assert.That(e!.Message, Does.Contain("simulated"));
        Assert.That(File.ReadAllBytes(first), Is.EqualTo(before));
        Assert.That(File.ReadAllText(second), Is.EqualTo("old index"));
        Assert.That(Directory.GetFiles(Folder), Is.EquivalentTo(new[] { first, second }), "no temporary file may remain");

        AtomicFile.WriteAll([
            (first, s => new SafetensorsWriter().Add("v", [2], new float[] { 1, 2 }).WriteTo(s)),
            (second, s => s.Write("new index"u8)),
        ]);
        using (var file = SafetensorsFile.Open(first)) Assert.That(file.ReadFloats("v"), Is.EqualTo(new float[] { 1, 2 }));
        Assert.That(File.ReadAllText(second), Is.EqualTo("new index"));
        Assert.That(Directory.GetFiles(Folder), Has.Length.EqualTo(2));
        Assert.Throws<ArgumentException>(() => AtomicFile.WriteAll([(first, _ => { }), (first, _ => { })]), "the same path twice");
    }

    [Test]
    public void MissingFolderIsReported()
    {
        string path = Path.Combine(Folder, "no", "such", "x.safetensors");
        Assert.Throws<DirectoryNotFoundException>(() => new SafetensorsWriter().Save(path));
    }
}
