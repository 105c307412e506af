// DeviceCheckBinary.cs — finds the built bench/Sara.DeviceCheck beside this test assembly's build (same configuration,
// in-tree bin/ or SARA_ARTIFACTS layout), or builds it once into a temporary folder. SARA_DEVICECHECK_DLL overrides.
using System.Diagnostics;
using Sara.Tests.Support;

namespace Sara.Tests.DeviceCheck;

public static class DeviceCheckBinary
{
    private static string? _built;

    public static string Locate()
    {
        var env = Environment.GetEnvironmentVariable("SARA_DEVICECHECK_DLL");
        if (!string.IsNullOrEmpty(env)) return env;
        foreach (var c in Candidates())
            if (File.Exists(c)) return c;
        return _built ??= Build();
    }

    private static IEnumerable<string> Candidates()
    {
        var here = AppContext.BaseDirectory.TrimEnd('/');
        var config = new DirectoryInfo(here).Name;   // artifacts layout: .../bin/Sara.Tests/<config>
        var parent = Path.GetDirectoryName(here)!;
        if (Path.GetFileName(parent) == "Sara.Tests")
            yield return Path.Combine(Path.GetDirectoryName(parent)!, "Sara.DeviceCheck", config, "Sara.DeviceCheck.dll");
        // In-tree layout: tests/Sara.Tests/bin/<Config>/net10.0
        var inTreeConfig = new DirectoryInfo(parent).Name;
        yield return Path.Combine(RepositoryPaths.Root, "bench", "Sara.DeviceCheck", "bin", inTreeConfig, "net10.0", "Sara.DeviceCheck.dll");
    }

    private static string Build()
    {
        var temp = Path.Combine(Path.GetTempPath(), $"sara-devicecheck-build-{Environment.ProcessId}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "build", Path.Combine(RepositoryPaths.Root, "bench", "Sara.DeviceCheck"), "-c", "Release", "--nologo" })
            psi.ArgumentList.Add(a);
        psi.Environment["SARA_ARTIFACTS"] = temp;
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        Assert.That(p.WaitForExit(600_000), Is.True, "building bench/Sara.DeviceCheck timed out");
        Assert.That(p.ExitCode, Is.Zero, $"building bench/Sara.DeviceCheck failed:\n{output.Result}\n{error.Result}");
        return Path.Combine(temp, "bin", "Sara.DeviceCheck", "release", "Sara.DeviceCheck.dll");
    }
}
