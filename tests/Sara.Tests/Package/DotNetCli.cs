using System.Diagnostics;
using System.Text;

namespace Sara.Tests.Package;

/// <summary>What a child `dotnet` process printed (stdout and stderr interleaved) and how it ended.</summary>
public sealed record CliResult(string Command, int ExitCode, string Output, TimeSpan Elapsed)
{
    public override string ToString() => $"`{Command}` exited with {ExitCode} after {Elapsed.TotalSeconds:F1} s:\n{Output}";
}

/// <summary>
/// Runs the dotnet CLI as a fresh user would: none of this test run's MSBuild / VSTest / SARA_* variables leak in,
/// no build server or node reuse (nothing outlives the call), invariant culture, a hard timeout that kills the tree.
/// </summary>
public static class DotNetCli
{
    private static readonly string[] LeakyPrefixes = ["MSBUILD", "VSTEST", "TESTINGPLATFORM", "NUNIT", "SARA_", "DOTNET_HOST_PATH"];

    /// <summary>The dotnet host running these tests (DOTNET_HOST_PATH, set by the SDK), else `dotnet` from PATH.</summary>
    public static string Host { get; } =
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";

    public static CliResult Run(string workingDirectory, IEnumerable<string> args, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(Host)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var key in psi.Environment.Keys.ToArray())
            if (LeakyPrefixes.Any(p => key.StartsWith(p, StringComparison.OrdinalIgnoreCase))) psi.Environment.Remove(key);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        psi.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1";
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;

        var command = "dotnet " + string.Join(' ', psi.ArgumentList);
        var output = new StringBuilder();
        void Append(object _, DataReceivedEventArgs e)
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
        }

        using var p = new Process { StartInfo = psi };
        p.OutputDataReceived += Append;
        p.ErrorDataReceived += Append;
        var clock = Stopwatch.StartNew();
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(TimeSpan.FromSeconds(10));
            lock (output) Assert.Fail($"`{command}` did not finish within {timeout.TotalSeconds:F0} s:\n{output}");
        }
        // The process has exited; give the pipes a bounded moment to drain (a stray grandchild must not hang the test).
        try { p.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token).Wait(); }
        catch (AggregateException) { }
        lock (output) return new CliResult(command, p.ExitCode, output.ToString(), clock.Elapsed);
    }

    /// <summary>Runs and asserts exit code 0, printing the whole output otherwise.</summary>
    public static CliResult RunOk(string workingDirectory, IEnumerable<string> args, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var r = Run(workingDirectory, args, timeout, environment);
        Assert.That(r.ExitCode, Is.Zero, r.ToString());
        TestContext.Progress.WriteLine($"[package] {r.Command}: {r.Elapsed.TotalSeconds:F1} s");
        return r;
    }
}
