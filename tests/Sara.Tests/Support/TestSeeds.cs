using System.Collections.Concurrent;
using System.Globalization;
using NUnit.Framework.Interfaces;

namespace Sara.Tests.Support;

/// <summary>
/// Where every random test input comes from. One run seed per test process: <c>SARA_TEST_SEED</c> when set, else drawn
/// fresh. The i-th generator a test creates (<c>new Rand()</c>) gets <see cref="Derive"/>(run seed, the test's full name,
/// i), so a test's inputs depend only on the run seed and on the test itself, not on which other tests ran or in what
/// order. <see cref="LogRandomSeedAttribute"/> writes the run seed into the output of every test that drew inputs, and
/// rerunning that test with <c>SARA_TEST_SEED=&lt;seed&gt;</c> draws the same inputs (TestSeedTests proves it in a child run).
/// </summary>
public static class TestSeeds
{
    public const string Variable = "SARA_TEST_SEED";

    private static readonly ConcurrentDictionary<string, List<int>> Drawn = new();
    private static readonly ConcurrentDictionary<string, List<int>> SharedDrawn = new();

    /// <summary>This process's run seed.</summary>
    public static int RunSeed { get; } = Parse(Environment.GetEnvironmentVariable(Variable)) ?? Random.Shared.Next();

    /// <summary>True when <see cref="Variable"/> forced the run seed.</summary>
    public static bool Forced { get; } = Parse(Environment.GetEnvironmentVariable(Variable)) is not null;

    /// <summary>The seed <c>SARA_TEST_SEED</c> names, or null when unset; anything else is an error that says so.</summary>
    public static int? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        return int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s)
            ? s
            : throw new ArgumentException($"{Variable}='{text}' is not a 32-bit integer.", nameof(text));
    }

    /// <summary>The seed of the next generator the current test creates.</summary>
    public static int Next()
    {
        var (id, name) = CurrentTest();
        var list = Drawn.GetOrAdd(id, _ => []);
        lock (list)
        {
            var seed = Derive(RunSeed, name, list.Count);
            list.Add(seed);
            return seed;
        }
    }

    /// <summary>
    /// A seed every test of the run shares under <paramref name="key"/> (for inputs cached across test cases, such as
    /// SvdTestMatrices' factors): derived from the run seed alone, so SARA_TEST_SEED replays it too; logged with the test.
    /// </summary>
    public static int Shared(string key)
    {
        var seed = Derive(RunSeed, "shared:" + key, 0);
        var list = SharedDrawn.GetOrAdd(CurrentTest().Id, _ => []);
        lock (list)
            if (!list.Contains(seed)) list.Add(seed);
        return seed;
    }

    /// <summary>The seeds the test with NUnit id <paramref name="testId"/> drew, in order (empty when none), shared ones last.</summary>
    public static IReadOnlyList<int> DrawnBy(string testId)
    {
        var all = new List<int>();
        foreach (var map in new[] { Drawn, SharedDrawn })
            if (map.TryGetValue(testId, out var list))
                lock (list) all.AddRange(list);
        return all;
    }

    /// <summary>
    /// Seed of generator <paramref name="index"/> of test <paramref name="testName"/> in run <paramref name="runSeed"/>:
    /// FNV-1a of the name (string.GetHashCode differs per process), mixed with the run seed and index by SplitMix64.
    /// </summary>
    public static int Derive(int runSeed, string testName, int index)
    {
        var h = 14695981039346656037UL;
        foreach (var c in testName)
        {
            h = (h ^ c) * 1099511628211UL;
        }
        var z = h ^ ((ulong)(uint)runSeed << 32) ^ (uint)index;
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & int.MaxValue);
    }

    /// <summary>The line each test that drew inputs gets in its output: the seed and how to replay it.</summary>
    public static string ReplayLine(ITest test, IReadOnlyList<int> seeds) =>
        $"random inputs: {Variable}={RunSeed.ToString(CultureInfo.InvariantCulture)}{(Forced ? " (forced)" : "")} " +
        $"({seeds.Count} generator(s), seeds {string.Join(", ", seeds.Take(8))}{(seeds.Count > 8 ? ", ..." : "")}); replay: " +
        $"{Variable}={RunSeed.ToString(CultureInfo.InvariantCulture)} dotnet test tests/Sara.Tests -c Release --filter \"FullyQualifiedName~{test.ClassName?.Split('.').Last()}.{test.MethodName}\"";

    private static (string Id, string Name) CurrentTest()
    {
        var test = TestContext.CurrentContext?.Test;
        return test is null ? ("", "(outside a test)") : (test.ID ?? "", test.FullName ?? test.Name ?? "");
    }
}

/// <summary>Writes <see cref="TestSeeds.ReplayLine"/> into the output of every test that drew random inputs.</summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class LogRandomSeedAttribute : Attribute, ITestAction
{
    public ActionTargets Targets => ActionTargets.Test;

    public void BeforeTest(ITest test) { }

    public void AfterTest(ITest test)
    {
        var seeds = TestSeeds.DrawnBy(test.Id);
        if (seeds.Count > 0) TestContext.Out.WriteLine(TestSeeds.ReplayLine(test, seeds));
    }
}
