// `sara smoke` beyond --help: it runs, prints an error below the house tolerance, and exits non-zero when it is not.
using System.Globalization;
using System.Text.RegularExpressions;
using Sara.Cli;
using Sara.Cli.Commands;
using Sara.Tests.Support;

namespace Sara.Tests.Cli;

public sealed partial class SmokeCommandTests : CliTestBase
{
    [TestCase("cpu"), TestCase("emu")]
    public void RunsOnTheDeviceAndPrintsAnErrorBelowTheTolerance(string device)
    {
        var run = Sara("smoke", "--device", device);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Does.StartWith($"device: {device}"));
        var m = ErrorLine().Match(run.Out);
        Assert.That(m.Success, Is.True, run.Out);
        var error = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.That(error, Is.Not.NaN.And.LessThan(SmokeCommand.Tolerance));
        Assert.That(run.Err, Is.Empty);
    }

    [TestCase(1e-3), TestCase(double.NaN), TestCase(double.PositiveInfinity), TestCase(1e-5)]
    public void AWrongResultIsANonZeroExitWithOneLine(double relativeError)
    {
        var error = new StringWriter();
        Assert.That(SmokeCommand.Verdict(relativeError, "emu", error), Is.EqualTo(SaraCli.ExitCheckFailed));
        Assert.That(error.ToString().TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(error.ToString(), Does.Contain("emu").And.Contain("wrong"));
    }

    [Test]
    public void ARightResultIsExitZero()
    {
        var error = new StringWriter();
        Assert.That(SmokeCommand.Verdict(3e-7, "cpu", error), Is.Zero);
        Assert.That(error.ToString(), Is.Empty);
    }

    [Test]
    public void AnUnavailableDeviceIsAOneLineError()
    {
        TestDevices.RequireNoGpu();
        var run = Sara("smoke", "--device", "cuda");
        Assert.That(run.ExitCode, Is.EqualTo(SaraCli.ExitUserError));
        Assert.That(run.Err.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(run.Err, Does.Contain("cuda").And.Contain("not available"));
    }

    [GeneratedRegex(@"relative error vs float64 ([0-9.E+-]+|NaN)")]
    private static partial Regex ErrorLine();
}
