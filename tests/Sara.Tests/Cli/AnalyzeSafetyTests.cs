// `sara analyze` against hostile files and careless outputs (issue 16): names that drive the terminal, names that
// flood it, FIFOs and folders given as checkpoints, --json / --plot written in place or over an input.
using Sara.Native.IO;
using Sara.Tests.IO;
using Sara.Tests.Support;

namespace Sara.Tests.Cli;

public sealed class AnalyzeSafetyTests : CliTestBase
{
    private const string Hostile = "x\u001b[2J\u001b]0;pwned\u0007";

    private string Checkpoint(string tensorName = "w", string file = "m.safetensors")
    {
        var path = PathOf(file);
        new SafetensorsWriter().Add(tensorName, [12, 10], new Rand(3).Normal(120)).Save(path);
        return path;
    }

    private static void AssertOneLine(CliRun run, int exitCode)
    {
        Assert.That(run.ExitCode, Is.EqualTo(exitCode), run.Err);
        Assert.That(run.Err.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), run.Err);
        Assert.That(run.Err, Does.Not.Contain("   at "));
    }

    [Test]
    public void EscapeSequencesInATensorNameReachTheTableEscaped()
    {
        var run = Sara("analyze", Checkpoint(Hostile), "--device", "cpu");
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        HostileFiles.AssertNoTerminalControl(run.Out);
        Assert.That(run.Out, Does.Contain("x\\x1b[2J\\x1b]0;pwned\\x07"));
    }

    [Test]
    public void BidiOverrideAndLineBreakInANameAreEscaped()
    {
        var run = Sara("analyze", Checkpoint("a\u202Eb\nc\u2028d"), "--device", "cpu");
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Does.Contain("a\\u202eb\\x0ac\\u2028d"));
    }

    [Test]
    public void AHundredThousandCharacterNameMakesAShortErrorLine()
    {
        var name = new string('n', 100_000);
        var path = PathOf("long.safetensors");
        RawSafetensors.Write(path, $$$"""{"{{{name}}}":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}}""", new byte[8]);
        var run = Sara("analyze", path);
        AssertOneLine(run, 1);
        Assert.That(run.Err.Length, Is.Not.NaN.And.LessThan(1000), "the name is shortened");
        Assert.That(run.Err, Does.Contain("…(+").And.Contain("unknown dtype 'F99'"), "the problem still shows after the shortened name");
    }

    [Test]
    public void AHundredThousandCharacterNameIsShortenedInTheTable()
    {
        var run = Sara("analyze", Checkpoint(new string('w', 100_000)), "--device", "cpu");
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out.Length, Is.Not.NaN.And.LessThan(10_000));
        Assert.That(run.Out, Does.Contain("…(+"));
    }

    [Test]
    public void JsonIsWrittenByReplacementNotInPlace()
    {
        // plan.json and keep.json are two names of one file: an in-place write would change both.
        var json = PathOf("plan.json");
        File.WriteAllText(json, "old plan");
        HostileFiles.HardLink(json, PathOf("keep.json"));
        var run = Sara("analyze", Checkpoint(), "--device", "cpu", "--json", json, "--plot", PathOf("plot.png"));
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(File.ReadAllText(PathOf("keep.json")), Is.EqualTo("old plan"), "the old file was replaced, not rewritten");
        Assert.That(File.ReadAllText(json), Does.Contain("\"layers\""));
        Assert.That(HostileFiles.Listing(Dir), Is.EqualTo(new[] { "keep.json", "m.safetensors", "plan.json", "plot.png" }), "no temporary file is left");
    }

    [Test]
    public void PlotThatIsNotAPngIsRefused()
    {
        var run = Sara("analyze", Checkpoint(), "--plot", PathOf("x.txt"));
        AssertOneLine(run, 2);
        Assert.That(run.Err, Does.Contain(".png"));
        Assert.That(File.Exists(PathOf("x.txt")), Is.False);
    }

    [Test]
    public void JsonOverTheCheckpointIsRefused()
    {
        var checkpoint = Checkpoint();
        var before = File.ReadAllBytes(checkpoint);
        var run = Sara("analyze", checkpoint, "--device", "cpu", "--json", checkpoint);
        AssertOneLine(run, 1);
        Assert.That(run.Err, Does.Contain("--json").And.Contain("same file"));
        Assert.That(File.ReadAllBytes(checkpoint), Is.EqualTo(before));
    }

    [Test]
    public void JsonAndPlotOnOneFileAreRefused()
    {
        var run = Sara("analyze", Checkpoint(), "--device", "cpu", "--json", PathOf("out.png"), "--plot", PathOf("out.png"));
        AssertOneLine(run, 1);
        Assert.That(run.Err, Does.Contain("--plot").And.Contain("--json"));
        Assert.That(File.Exists(PathOf("out.png")), Is.False);
    }

    [Test]
    public void FifoAsCheckpointIsRefusedWithoutHanging()
    {
        var fifo = HostileFiles.Fifo(PathOf("pipe.safetensors"));
        var run = HostileFiles.FinishesWithin(20, fifo, () => Sara("analyze", fifo, "--device", "cpu"));
        AssertOneLine(run, 1);
        Assert.That(run.Err, Does.Contain("FIFO"));
    }

    [Test]
    public void FolderAsCheckpointIsNamedAFolder()
    {
        Directory.CreateDirectory(PathOf("model.safetensors"));
        var run = Sara("analyze", PathOf("model.safetensors"));
        AssertOneLine(run, 1);
        Assert.That(run.Err, Does.Contain("is a directory"));
    }

    [Test]
    public void StaleTemporaryJsonOfACrashedRunIsRemoved()
    {
        var stale = PathOf(".plan.json.999999999.00000000abcd.sara-tmp");
        File.WriteAllText(stale, "half a plan");
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddMinutes(-5));
        var run = Sara("analyze", Checkpoint(), "--device", "cpu", "--json", PathOf("plan.json"));
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(File.Exists(stale), Is.False);
    }
}
