// The reusable safety helpers on their own: SafeText (printing names), StrictJson (reading JSON), RegularFile and
// OutputFile (which files may be read and written).
using System.Text;
using Sara.Native.IO;
using Sara.Tests.Support;

namespace Sara.Tests.IO;

public sealed class SafetyHelperTests : IoTestBase
{
    [TestCase("model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.q_proj.weight")]
    [TestCase("ümlaut 日本 😀", "ümlaut 日本 😀")]
    [TestCase("a\u001bb", "a\\x1bb")]
    [TestCase("tab\there", "tab\\x09here")]
    [TestCase("del\u007f c1\u0085", "del\\x7f c1\\u0085")]
    [TestCase("rtl\u202Eoverride\u2066", "rtl\\u202eoverride\\u2066")]
    [TestCase("zero\u200Bwidth", "zero\\u200bwidth")]
    [TestCase("line\u2028sep", "line\\u2028sep")]
    [TestCase("tag\U000E0041", "tag\\U000e0041")]
    public void EscapesWhatATerminalActsOn(string name, string shown) => Assert.That(SafeText.Name(name), Is.EqualTo(shown));

    [Test]
    public void UnpairedSurrogatesAreEscaped()
    {
        // Built at run time: a lone surrogate in an attribute argument would be stored as U+FFFD.
        Assert.That(SafeText.Name("lone" + (char)0xD800 + "x"), Is.EqualTo("lone\\ud800x"));
        Assert.That(SafeText.Name("x" + (char)0xDC00), Is.EqualTo("x\\udc00"));
        Assert.That(SafeText.Name("" + (char)0xDC00 + (char)0xD800), Is.EqualTo("\\udc00\\ud800"), "reversed pair");
    }

    [Test]
    public void LongTextKeepsItsStartAndSaysHowMuchIsLeftOut()
    {
        var shown = SafeText.Name(new string('a', 100_000));
        Assert.That(shown, Is.EqualTo(new string('a', SafeText.NameLimit) + "…(+99,800 chars)"));
        Assert.That(SafeText.Line(new string('b', SafeText.LineLimit)), Has.Length.EqualTo(SafeText.LineLimit), "at the limit: unchanged");
    }

    [Test]
    public void ShorteningNeverSplitsASurrogatePair()
    {
        var shown = SafeText.Escape(new string('a', 9) + "😀😀", 10);
        Assert.That(shown, Does.StartWith(new string('a', 9) + "😀"));
        Assert.That(shown.Any(char.IsSurrogate) && !Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(shown)).Contains('\uFFFD'), Is.True);
    }

    [TestCase("""{"a":1,"a":2}""", "duplicate key 'a'", null)]
    [TestCase("""{"t":{"dtype":"F32","dtype":"F16"}}""", "duplicate key 'dtype'", "t")]
    [TestCase("""{"x":[{"k":1,"k":1}]}""", "duplicate key 'k'", "x")]
    [TestCase("""{"a\ud800":1}""", "unpaired surrogate", null)]
    [TestCase("""{"m":{"v":"\udfff"}}""", "the value of 'v'", "m")]
    [TestCase("""{"a":1""", "not valid JSON", null)]
    public void StrictJsonFindsWhatSystemTextJsonLetsThrough(string json, string problem, string? owner)
    {
        var fault = StrictJson.Check(Encoding.UTF8.GetBytes(json));
        Assert.That(fault, Is.Not.Null);
        Assert.That(fault!.Problem, Does.Contain(problem));
        Assert.That(fault.ObjectPath.FirstOrDefault(), Is.EqualTo(owner));
    }

    [TestCase("""{"a":{"b":1},"c":{"b":2},"d":[{"e":1},{"e":2}]}""")]
    [TestCase("""{"pair":"\ud83d\ude00"}""")]
    public void StrictJsonAcceptsTheSameKeyInDifferentObjects(string json) => Assert.That(StrictJson.Check(Encoding.UTF8.GetBytes(json)), Is.Null);

    [Test]
    public void RegularFileKnowsWhatAPathIs()
    {
        var file = FilePath("f");
        File.WriteAllText(file, "x");
        File.CreateSymbolicLink(FilePath("link"), file);
        HostileFiles.HardLink(file, FilePath("hard"));
        HostileFiles.Fifo(FilePath("pipe"));
        Assert.That(RegularFile.Identify(file).Kind, Is.EqualTo(FileKind.Regular));
        Assert.That(RegularFile.Identify(FilePath("link")).SameFileAs(RegularFile.Identify(file)), Is.True);
        Assert.That(RegularFile.Identify(FilePath("link"), followLinks: false).Kind, Is.EqualTo(FileKind.SymbolicLink));
        Assert.That(RegularFile.Identify(FilePath("hard")).SameFileAs(RegularFile.Identify(file)), Is.True);
        Assert.That(RegularFile.Identify(FilePath("pipe")).Kind, Is.EqualTo(FileKind.Fifo));
        Assert.That(RegularFile.Identify(Folder).Kind, Is.EqualTo(FileKind.Directory));
        Assert.That(RegularFile.Identify("/dev/null").Kind, Is.EqualTo(FileKind.CharacterDevice));
        Assert.That(RegularFile.Identify(FilePath("none")).Exists, Is.False);
        Assert.That(RegularFile.RealPath(FilePath("link")), Is.EqualTo(RegularFile.RealPath(file)));
        Assert.Throws<FileNotFoundException>(() => RegularFile.OpenRead(FilePath("none")).Dispose());
        var e = Assert.Throws<IOException>(() => RegularFile.OpenRead("/dev/zero", "checkpoint").Dispose());
        Assert.That(e!.Message, Is.EqualTo("checkpoint '/dev/zero' is a character device, not a regular file"));
        using var s = RegularFile.OpenRead(FilePath("link"));
        Assert.That(s.Length, Is.EqualTo(1));
    }

    [Test]
    public void OutputFileRefusesInputsLinksAndNonFiles()
    {
        var input = FilePath("in");
        File.WriteAllText(input, "x");
        File.CreateSymbolicLink(FilePath("link"), FilePath("elsewhere"));
        (string, string)[] inputs = [(input, "input")];
        Assert.DoesNotThrow(() => OutputFile.Check(FilePath("new"), "out", inputs));
        Assert.That(Assert.Throws<IOException>(() => OutputFile.Check(input, "out", inputs))!.Message, Does.Contain("the input"));
        Assert.That(Assert.Throws<IOException>(() => OutputFile.Check(FilePath("link"), "out", inputs))!.Message, Does.Contain("symbolic link"));
        Assert.That(Assert.Throws<IOException>(() => OutputFile.Check(Folder, "out", inputs))!.Message, Does.Contain("directory"));
        Assert.Throws<IOException>(() => OutputFile.CheckDistinct([(FilePath("a"), "--json"), (Path.Combine(Folder, ".", "a"), "--plot")]));
        Assert.DoesNotThrow(() => OutputFile.CheckDistinct([(FilePath("a"), "--json"), (FilePath("b"), "--plot"), (null, "--other")]));
    }

    [Test]
    public void AtomicWriteUsesARecognisableTemporaryNameInTheTargetFolder()
    {
        var target = FilePath("plan.json");
        string? seen = null;
        AtomicFile.Write(target, s =>
        {
            seen = s.Name;
            s.WriteByte((byte)'x');
        });
        Assert.That(Path.GetDirectoryName(seen), Is.EqualTo(Folder));
        Assert.That(Path.GetFileName(seen), Does.Match($@"^\.plan\.json\.{Environment.ProcessId}\.[0-9a-f]{{12}}\.sara-tmp$"));
        Assert.That(HostileFiles.Listing(Folder), Is.EqualTo(new[] { "plan.json" }));
    }

    [Test]
    public void AtomicWriteOfATargetWithAMaximalNameWorks()
    {
        // 250 bytes of name: the temporary name is cut to stay a legal file name (255 bytes).
        var target = FilePath(new string('ä', 120) + ".safetensors");
        AtomicFile.WriteAllText(target, "x");
        Assert.That(File.ReadAllText(target), Is.EqualTo("x"));
        Assert.That(HostileFiles.Listing(Folder), Has.Length.EqualTo(1));
    }
}
