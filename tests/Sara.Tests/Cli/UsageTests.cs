// --help for every command; bad arguments give one line on stderr and a non-zero exit code, no stack trace.
using Sara.Native.IO;
using Sara.Tests.Support;

namespace Sara.Tests.Cli;

public sealed class UsageTests : CliTestBase
{
    [TestCase("analyze", "--threshold", "--criterion", "--min-rank", "--max-rank", "--include", "--exclude", "--device", "--experts", "--json", "--plot")]
    [TestCase("demo", "--device", "--seed", "--steps", "--out")]
    [TestCase("merge", "--output", "--device")]
    [TestCase("export", "--format", "--output", "--portable", "--prefix", "--base-model")]
    [TestCase("import-peft", "--output", "--prefix", "--rank-tolerance")]
    [TestCase("smoke", "--device")]
    public void HelpListsTheOptions(string command, params string[] options)
    {
        var run = Sara(command, "--help");
        Assert.That(run.ExitCode, Is.EqualTo(0));
        Assert.That(run.Out, Does.Contain("Usage:").And.Contain(command));
        foreach (var o in options) Assert.That(run.Out, Does.Contain(o));
    }

    [Test]
    public void RootHelpListsTheCommands()
    {
        var run = Sara("--help");
        Assert.That(run.ExitCode, Is.EqualTo(0));
        foreach (var c in new[] { "analyze", "demo", "export", "import-peft", "merge", "smoke" }) Assert.That(run.Out, Does.Contain(c));
    }

    private string SmallCheckpoint()
    {
        var path = PathOf("m.safetensors");
        new SafetensorsWriter().Add("w", [8, 6], new Rand().Normal(48)).Save(path);
        return path;
    }

    private static void AssertOneLineError(CliRun run, string mentions)
    {
        Assert.That(run.ExitCode, Is.Not.EqualTo(0));
        var lines = run.Err.TrimEnd('\r', '\n').Split('\n');
        Assert.That(lines, Has.Length.EqualTo(1), run.Err);
        Assert.That(run.Err, Does.Contain(mentions));
        Assert.That(run.Err, Does.Not.Contain("   at "));
    }

    [Test]
    public void MissingFile() => AssertOneLineError(Sara("analyze", PathOf("nothere.safetensors")), "does not exist");

    [Test]
    public void UnknownCriterion() => AssertOneLineError(Sara("analyze", SmallCheckpoint(), "--criterion", "median"), "--criterion");

    [TestCase("0")]
    [TestCase("1.5")]
    [TestCase("-0.1")]
    public void ThresholdOutsideUnitInterval(string tau) => AssertOneLineError(Sara("analyze", SmallCheckpoint(), "--threshold", tau), "--threshold");

    [Test]
    public void MinRankAboveMaxRank() => AssertOneLineError(Sara("analyze", SmallCheckpoint(), "--min-rank", "9", "--max-rank", "3"), "--min-rank");

    [Test]
    public void CorruptFile()
    {
        var path = PathOf("bad.safetensors");
        File.WriteAllBytes(path, new byte[] { 200, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'x' });
        AssertOneLineError(Sara("analyze", path), "bad.safetensors");
    }

    [Test]
    public void UnknownDevice() => AssertOneLineError(Sara("analyze", SmallCheckpoint(), "--device", "tpu"), "tpu");

    [Test]
    public void UnknownOption() => AssertOneLineError(Sara("analyze", SmallCheckpoint(), "--frobnicate"), "--frobnicate");

    [Test]
    public void MergeWithoutOutput() => AssertOneLineError(Sara("merge", "a.safetensors", "b.safetensors"), "--output");

    [Test]
    public void ExportToAnUnknownFormat() => AssertOneLineError(Sara("export", "a.safetensors", "--format", "gguf", "-o", PathOf("d")), "--format");

    [Test]
    public void BadSteps() => AssertOneLineError(Sara("demo", "--steps", "0", "--out", PathOf("d")), "--steps");
}
