using System.Globalization;
using System.Text.RegularExpressions;

namespace Sara.Tests.Support;

/// <summary>
/// Random inputs are reproducible: a failing test's output names the run seed, and a rerun with SARA_TEST_SEED set to
/// it draws the same inputs (proved in child test processes, since the run seed is fixed when a process starts).
/// </summary>
public sealed partial class TestSeedTests
{
    private const string ProbeMode = "SARA_TEST_SEED_PROBE";

    /// <summary>
    /// Draws inputs and prints them. In an ordinary run it checks that they are the ones the run seed and this test's
    /// name determine; the child runs below set <see cref="ProbeMode"/>=fail to make it a failing random test.
    /// </summary>
    [Test]
    public void Probe()
    {
        var inputs = new Rand().Normal(6);
        TestContext.Out.WriteLine("probe inputs: " + string.Join(" ", inputs.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        if (Environment.GetEnvironmentVariable(ProbeMode) == "fail") Assert.Fail("a deliberate failure (TestSeedTests' child run)");
        var expected = new Rand(TestSeeds.Derive(TestSeeds.RunSeed, TestContext.CurrentContext.Test.FullName, 0)).Normal(6);
        Assert.That(inputs, Is.EqualTo(expected));
    }

    [Test]
    public void AFailingRandomTestPrintsItsSeedAndRerunningWithItReproducesTheInputs()
    {
        const string filter = "FullyQualifiedName=Sara.Tests.Support.TestSeedTests.Probe";
        var first = ChildTestRun.Run(filter, new Dictionary<string, string> { [ProbeMode] = "fail" }).Single();
        Assert.That(first.Outcome, Is.EqualTo("Failed"), first.ToString());
        var seedLine = SeedLine().Match(first.Output);
        Assert.That(seedLine.Success, Is.True, $"the failing test's output must name the seed:\n{first}");
        Assert.That(first.Output, Does.Contain("replay: SARA_TEST_SEED=" + seedLine.Groups[1].Value));
        var seed = seedLine.Groups[1].Value;

        var again = ChildTestRun.Run(filter, new Dictionary<string, string> { [ProbeMode] = "fail", [TestSeeds.Variable] = seed }).Single();
        Assert.That(again.Output, Does.Contain($"{TestSeeds.Variable}={seed} (forced)"), again.ToString());
        Assert.That(Inputs(again.Output), Is.EqualTo(Inputs(first.Output)), "the same seed must give the same inputs");
        Assert.That(Inputs(first.Output), Has.Length.EqualTo(6));
    }

    [Test]
    public void InputsDependOnTheRunSeedTheTestAndTheGeneratorsIndexOnly()
    {
        const string name = "Sara.Tests.Kernels.SomeTests.Case(cpu,T1)";
        var once = TestSeeds.Derive(12345, name, 0);
        Assert.That(TestSeeds.Derive(12345, name, 0), Is.EqualTo(once));
        var seeds = new[]
        {
            TestSeeds.Derive(12345, name, 0), TestSeeds.Derive(12346, name, 0), TestSeeds.Derive(12345, name, 1),
            TestSeeds.Derive(12345, name.Replace("cpu", "emu"), 0),
        };
        Assert.That(seeds, Is.Unique, "another run seed, generator or test case must draw other inputs");
        Assert.That(seeds, Is.All.GreaterThanOrEqualTo(0));
        var drawn = new Rand(seeds[0]).Normal(5);
        Assert.That(new Rand(seeds[0]).Normal(5), Is.EqualTo(drawn));
        Assert.That(new Rand(seeds[1]).Normal(5), Is.Not.EqualTo(new Rand(seeds[0]).Normal(5)));

        // This test's own generators are numbered 0, 1, ... in the order it creates them.
        var a = new Rand();
        var b = new Rand();
        var test = TestContext.CurrentContext.Test;
        Assert.That((a.Seed, b.Seed), Is.EqualTo((TestSeeds.Derive(TestSeeds.RunSeed, test.FullName, 0), TestSeeds.Derive(TestSeeds.RunSeed, test.FullName, 1))));
        Assert.That(TestSeeds.DrawnBy(test.ID), Is.EqualTo(new[] { a.Seed, b.Seed }));
    }

    [Test]
    public void TheSeedVariableIsParsedStrictly()
    {
        Assert.That(TestSeeds.Parse(null), Is.Null);
        Assert.That(TestSeeds.Parse(" "), Is.Null);
        Assert.That(TestSeeds.Parse(" 42 "), Is.EqualTo(42));
        Assert.That(TestSeeds.Parse("-7"), Is.EqualTo(-7));
        Assert.That(Assert.Throws<ArgumentException>(() => TestSeeds.Parse("0x10"))!.Message, Does.Contain("SARA_TEST_SEED"));
        Assert.Throws<ArgumentException>(() => TestSeeds.Parse("99999999999"));
    }

    private static float[] Inputs(string output)
    {
        var m = InputsLine().Match(output);
        Assert.That(m.Success, Is.True, $"no probe inputs in:\n{output}");
        return m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
    }

    [GeneratedRegex(@"random inputs: SARA_TEST_SEED=(-?\d+)")]
    private static partial Regex SeedLine();

    [GeneratedRegex(@"probe inputs: ([^\r\n]+)")]
    private static partial Regex InputsLine();
}
