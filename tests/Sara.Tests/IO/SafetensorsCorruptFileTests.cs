// Malformed files: each must fail on open with SafetensorsFormatException naming the file, the tensor and the problem.
using System.Text;
using Sara.Native.IO;

namespace Sara.Tests.IO;

public sealed class SafetensorsCorruptFileTests : IoTestBase
{
    public sealed record Case(string Label, Func<byte[]> Bytes, string? Tensor, string Problem)
    {
        public override string ToString() => Label;
    }

    private static byte[] Raw(string header, int dataBytes) => RawSafetensors.Bytes(header, Enumerable.Range(1, dataBytes).Select(i => (byte)i).ToArray());

    private static byte[] WithLength(ulong headerLength, int totalBytes)
    {
        var bytes = new byte[totalBytes];
        BitConverter.GetBytes(headerLength).CopyTo(bytes, 0);
        for (int i = 8; i < totalBytes; i++) bytes[i] = (byte)' ';
        return bytes;
    }

    public static IEnumerable<Case> Cases()
    {
        yield return new("empty file", () => [], null, "file is 0 bytes");
        yield return new("shorter than the length prefix", () => [1, 0, 0, 0, 0], null, "file is 5 bytes");
        yield return new("header length beyond the file", () => WithLength(1000, 40), null, "header length 1000 runs past the end of the file (40 bytes)");
        yield return new("absurd header length", () => WithLength(ulong.MaxValue, 40), null, "is absurd");
        yield return new("truncated header JSON", () => Raw("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}""", 8), null, "not valid UTF-8 JSON");
        yield return new("header not UTF-8", () => RawSafetensors.Bytes([(byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}'], new byte[4]), null, "not valid UTF-8 JSON");
        yield return new("header is an array", () => Raw("[1,2]", 0), null, "must be a JSON object, found Array");
        yield return new("missing data_offsets", () => Raw("""{"w":{"dtype":"F32","shape":[2]}}""", 8), "w", "missing 'data_offsets'");
        yield return new("missing dtype", () => Raw("""{"w":{"shape":[2],"data_offsets":[0,8]}}""", 8), "w", "missing 'dtype'");
        yield return new("missing shape", () => Raw("""{"w":{"dtype":"F32","data_offsets":[0,8]}}""", 8), "w", "missing 'shape'");
        yield return new("entry not an object", () => Raw("""{"w":5}""", 0), "w", "entry must be an object");
        yield return new("unknown dtype", () => Raw("""{"w":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}}""", 8), "w", "unknown dtype 'F17'");
        yield return new("lower-case dtype", () => Raw("""{"w":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}}""", 8), "w", "unknown dtype 'f32'");
        yield return new("offset past the end", () => Raw("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8), "w", "run past the end of the data section (8 bytes)");
        yield return new("end before begin", () => Raw("""{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}""", 8), "w", "end 0 is before begin 8");
        yield return new("negative offset", () => Raw("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}""", 8), "w", "not non-negative integers");
        yield return new("three offsets", () => Raw("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}""", 8), "w", "must be [begin, end]");
        yield return new("overlapping tensors", () => Raw("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12), "b", "overlap tensor 'a'");
        yield return new("shape/byte mismatch", () => Raw("""{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8), "w", "needs 12 bytes but data_offsets [0, 8] hold 8");
        yield return new("dtype size mismatch", () => Raw("""{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,8]}}""", 8), "w", "of BF16 needs 4 bytes");
        yield return new("shape product overflows", () => Raw("""{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}""", 8), "w", "more bytes than a file can hold");
        yield return new("negative dimension", () => Raw("""{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", 8), "w", "negative dimension -2");
        yield return new("fractional dimension", () => Raw("""{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}}""", 8), "w", "'shape' entry 0 is not an integer");
        yield return new("duplicate names", () => Raw("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8), "w", "duplicate tensor name");
        yield return new("metadata value not a string", () => Raw("""{"__metadata__":{"epoch":3},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4), null, "value of key 'epoch' must be a string");
        yield return new("metadata not an object", () => Raw("""{"__metadata__":"x"}""", 0), null, "'__metadata__' must be an object");
    }

    [TestCaseSource(nameof(Cases))]
    public void OpenFailsWithSpecificError(Case c)
    {
        string path = FilePath("corrupt.safetensors");
        File.WriteAllBytes(path, c.Bytes());
        var e = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path).Dispose());
        TestContext.Out.WriteLine(e!.Message);
        Assert.That(e.Problem, Does.Contain(c.Problem));
        Assert.That(e.FilePath, Is.EqualTo(path));
        Assert.That(e.TensorName, Is.EqualTo(c.Tensor));
        Assert.That(e.Message, Does.StartWith(path + ": "));
        if (c.Tensor is not null) Assert.That(e.Message, Does.Contain($"tensor '{c.Tensor}'"));
        Assert.That(e, Is.InstanceOf<IOException>());
    }

    [Test]
    public void ValidFileMadeLikeTheCorruptOnesOpens()
    {
        // The corrupt cases differ from this file in one detail each; this one must open.
        string path = FilePath("valid.safetensors");
        File.WriteAllBytes(path, Raw("""{"__metadata__":{"epoch":"3"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}}""", 12));
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Tensors, Has.Count.EqualTo(2));
        Assert.That(Encoding.UTF8.GetString(File.ReadAllBytes(path), 8, 10), Does.StartWith("{\"__"));
    }

    [Test]
    public void MissingFileIsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => SafetensorsFile.Open(FilePath("absent.safetensors")));
    }
}
