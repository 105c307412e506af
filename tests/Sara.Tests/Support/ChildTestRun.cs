using System.Xml.Linq;
using Sara.Tests.Package;

namespace Sara.Tests.Support;

/// <summary>One test's result in a child `dotnet test` run: outcome (Passed, Failed, NotExecuted for a skip), output, message.</summary>
public sealed record ChildTestResult(string Name, string Outcome, string Output, string Message)
{
    public override string ToString() => $"{Name}: {Outcome}; message: {Message}\noutput: {Output}";
}

/// <summary>
/// Runs some of this very test assembly in a child `dotnet test` process with an environment of its own (a forced seed,
/// a fake CUDA driver) and reads the results back from its trx: for behaviour fixed at process start, which one test
/// process cannot observe twice.
/// </summary>
public static class ChildTestRun
{
    public static IReadOnlyList<ChildTestResult> Run(string filter, IReadOnlyDictionary<string, string> environment)
    {
        var dir = Path.Combine(Path.GetTempPath(), "sara-child-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var run = DotNetCli.Run(dir, ["test", typeof(ChildTestRun).Assembly.Location, "--filter", filter,
                "--logger", "trx;LogFileName=child.trx", "--results-directory", dir], TimeSpan.FromMinutes(5), environment);
            TestContext.Out.WriteLine($"child run: {run.Command} -> {run.ExitCode} ({run.Elapsed.TotalSeconds:F1} s)");
            var trx = Path.Combine(dir, "child.trx");
            Assert.That(trx, Does.Exist, run.ToString());
            var results = XDocument.Load(trx).Descendants().Where(e => e.Name.LocalName == "UnitTestResult")
                .Select(e => new ChildTestResult(
                    (string?)e.Attribute("testName") ?? "",
                    (string?)e.Attribute("outcome") ?? "",
                    Text(e, "StdOut"),
                    Text(e, "Message")))
                .ToList();
            Assert.That(results, Is.Not.Empty, $"the filter {filter} selected no test:\n{run}");
            return results;
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    private static string Text(XElement result, string localName) =>
        string.Join("\n", result.Descendants().Where(d => d.Name.LocalName == localName).Select(d => d.Value));
}
