using System.Diagnostics;

namespace Sara.Tests.Support;

/// <summary>Builds Support/fake_libcuda.c into a shared library once per test process (g++, which build.sh installs).</summary>
public static class FakeCudaDriver
{
    private static readonly Lazy<string> Built = new(Build);
    private static readonly string Folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"sara-fake-cuda-{Environment.ProcessId}");

    /// <summary>Path of the fake libcuda.so.1.</summary>
    public static string Path => Built.Value;

    private static string Build()
    {
        Directory.CreateDirectory(Folder);
        var output = System.IO.Path.Combine(Folder, "libcuda.so.1");
        var source = System.IO.Path.Combine(RepositoryPaths.Root, "tests", "Sara.Tests", "Support", "fake_libcuda.c");
        var psi = new ProcessStartInfo("g++") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-x", "c", "-shared", "-fPIC", "-O1", "-o", output, source }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.That(p.WaitForExit(120_000), Is.True, "g++ did not finish building the fake CUDA driver");
        Assert.That(p.ExitCode, Is.Zero, $"g++ failed to build the fake CUDA driver:\n{stdout.Result}\n{stderr.Result}");
        return output;
    }

    /// <summary>Removes this process's build folder, if the fake driver was built or tried (called once, after every test).</summary>
    public static void DeleteIfBuilt()
    {
        if (Directory.Exists(Folder)) Directory.Delete(Folder, recursive: true);
    }
}
