// Every option value that does not parse is System.CommandLine's parse error: one line on stderr, exit 2, no stack
// trace; numbers are read the same way under every culture ("1,5" is an error, not 15 and not 1.5).
using System.Globalization;
using Sara.Cli;
using Sara.Native.IO;
using Sara.Tests.Support;

namespace Sara.Tests.Cli;

public sealed class CommandLineParsingTests : CliTestBase
{
    private string Checkpoint()
    {
        var path = PathOf("m.safetensors");
        new SafetensorsWriter().Add("w", [8, 6], new Rand().Normal(48)).Save(path);
        return path;
    }

    private static void AssertParseError(CliRun run, string option)
    {
        Assert.That(run.ExitCode, Is.EqualTo(SaraCli.ExitUsage), run.Err);
        Assert.That(run.Err.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), run.Err);
        Assert.That(run.Err, Does.Contain(option).And.Not.Contain("   at ").And.Not.Contain("Exception"));
        Assert.That(run.Out, Is.Empty);
    }

    // The cases of issue 16 that ended in an unhandled exception (SIGABRT, a 13-line stack).
    [TestCase("--tau", "abc", "--threshold")]
    [TestCase("--tau", "", "--threshold")]
    [TestCase("--threshold", "0x10", "--threshold")]
    [TestCase("--min-rank", "2147483648", "--min-rank")]
    [TestCase("--min-rank", "1.5", "--min-rank")]
    [TestCase("--max-rank", "x", "--max-rank")]
    [TestCase("--experts", "abc", "--experts")]
    [TestCase("--tau", "NaN", "--threshold")]
    [TestCase("--tau", "Infinity", "--threshold")]
    public void AnalyzeOptionThatDoesNotParse(string option, string value, string named) =>
        AssertParseError(Sara("analyze", Checkpoint(), option, value), named);

    [TestCase("--steps", "abc")]
    [TestCase("--steps", "1e3")]
    [TestCase("--seed", "one")]
    [TestCase("--seed", "99999999999")]
    public void DemoOptionThatDoesNotParse(string option, string value) =>
        AssertParseError(Sara("demo", option, value, "--out", PathOf("d")), option);

    [TestCase("1,5")]
    [TestCase("0,5")]
    [TestCase("1 000")]
    public void ThousandsAndDecimalCommasAreErrors(string tau)
    {
        var run = Sara("analyze", Checkpoint(), "--tau", tau);
        AssertParseError(run, "--threshold");
        Assert.That(run.Err, Does.Contain($"'{tau}'"), "the value is refused as written, not read as 15 or 5 and then found out of range");
    }

    [TestCase("de-DE")]
    [TestCase("fr-FR")]
    [TestCase("en-US")]
    public void NumbersParseTheSameUnderEveryCulture(string culture)
    {
        var saved = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo(culture);
            var json = PathOf("plan.json");
            var ok = Sara("analyze", Checkpoint(), "--tau", "0.5", "--min-rank", "2", "--max-rank", "3", "--json", json, "--device", "cpu");
            Assert.That(ok.ExitCode, Is.EqualTo(0), ok.Err);
            Assert.That(File.ReadAllText(json), Does.Contain("\"tau\": 0.5"));
            AssertParseError(Sara("analyze", Checkpoint(), "--tau", "0,5"), "--threshold");
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
        }
    }

    [Test]
    public void OutOfRangeValuesAreParseErrorsToo()
    {
        AssertParseError(Sara("analyze", Checkpoint(), "--tau", "1.5"), "--threshold");
        AssertParseError(Sara("analyze", Checkpoint(), "--min-rank", "0"), "--min-rank");
        AssertParseError(Sara("demo", "--steps", "-3", "--out", PathOf("d")), "--steps");
    }

    [Test]
    public void ControlCharactersInAnUnknownOptionAreEscaped()
    {
        var run = Sara("analyze", Checkpoint(), "--x\u001b[2J\u001b]0;pwned\u0007");
        Assert.That(run.ExitCode, Is.EqualTo(SaraCli.ExitUsage));
        HostileFiles.AssertNoTerminalControl(run.Err);
        Assert.That(run.Err.Contains('\u001b'), Is.False);
        Assert.That(run.Err, Does.Contain("\\x1b[2J"));
    }
}
