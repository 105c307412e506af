using System.Globalization;
using System.Text.RegularExpressions;
using Sara.Native.Runtime;
using Sara.Native.Svd;
using Sara.Tests.Support;

namespace Sara.Tests.Package;

/// <summary>
/// A fresh console project consumes the packed Sara.Native from a local folder feed; its Program.cs is the README
/// quickstart (docs/quickstart/Program.cs), so the quickstart cannot rot. It must build warning-free, run one SARA
/// forward, AdamW steps and a merge on the default device and on the emulator the package ships (SARA_DEVICE=emu, loaded
/// from the package's runtimes/linux-x64/native), and, with a native library made unloadable, fail at first use with the
/// resolver's message.
/// </summary>
[TestFixture]
[Category("Package")]
[NonParallelizable]
public sealed partial class PackageConsumerTests
{
    private const int M = 64, N = 128, Steps = 20;   // as in docs/quickstart/Program.cs
    private const string Missing = "/nonexistent/sara-package-test/";

    [OneTimeSetUp]
    public void BuildConsumer() =>
        TestContext.Progress.WriteLine($"[package] pack {PackedFeed.Instance.PackTime.TotalSeconds:F1} s, consumer restore + build " +
                                       $"{QuickstartConsumer.Instance.BuildTime.TotalSeconds:F1} s");

    [Test]
    public void The_quickstart_runs_a_sara_forward_and_adamw_steps_on_the_default_device()
    {
        var r = QuickstartConsumer.Instance.Run();
        var lines = AssertQuickstartRan(r);
        Assert.That(lines, Has.Some.StartsWith("device: " + DefaultDeviceName() + (DefaultDeviceName() == "cpu" ? " (" : ":")),
            "the default device: the GPU when one is usable, else the CPU");
    }

    [Test]
    public void The_quickstart_runs_on_the_emulator_shipped_in_the_package()
    {
        var r = QuickstartConsumer.Instance.Run(new Dictionary<string, string> { ["SARA_DEVICE"] = "emu" });
        var lines = AssertQuickstartRan(r);
        var device = lines.SingleOrDefault(l => l.StartsWith("device: emulator (", StringComparison.Ordinal));
        Assert.That(device, Is.Not.Null, "the consumer selected emu");
        // The emulator's description ends with the file it loaded: the package's native asset, not the build tree's.
        var path = device![(device.LastIndexOf("; ", StringComparison.Ordinal) + 2)..^1];
        Assert.That(path, Does.EndWith("/runtimes/linux-x64/native/libsara_emu.so"), device);
        Assert.That(path, Does.Not.StartWith(RepositoryPaths.Root), "not the checkout's artifacts/native");
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(File.ReadAllBytes(Path.Combine(RepositoryPaths.Root, "artifacts", "native", "libsara_emu.so"))));
    }

    /// <summary>The quickstart's output, line by line, after checking the rank, the first forward, the losses and the merge.</summary>
    private static string[] AssertQuickstartRan(CliResult r)
    {
        TestContext.Out.WriteLine(r.Output);
        Assert.That(r.ExitCode, Is.Zero, r.ToString());
        var lines = r.Output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

        var rank = lines.Select(l => RankLine().Match(l)).SingleOrDefault(m => m.Success);
        Assert.That(rank, Is.Not.Null, "rank line");
        int k = Int(rank!, "k"), of = Int(rank!, "of");
        double reached = Double(rank!, "reached"), tau = Double(rank!, "tau");
        long trainable = long.Parse(rank!.Groups["trainable"].Value, CultureInfo.InvariantCulture);
        Assert.That(of, Is.EqualTo(Math.Min(M, N)));
        Assert.That(k, Is.InRange(RankOptions.DefaultKMin, of), "rank clamped to [kMin, min(m, n)]");
        Assert.That(tau, Is.EqualTo(RankOptions.DefaultTau * 100).Within(0.5), "the library's default tau");
        Assert.That(reached, Is.GreaterThanOrEqualTo(tau - 0.05), "the leading k values reach tau of the spectrum");
        Assert.That(trainable, Is.EqualTo((long)k * (M + N) + k), "A (m x k), B (k x n), lambda (k) train; W0 does not");

        Assert.That(lines, Has.Member("first forward equals the pretrained layer: True"), "lambda = 0 at start");

        var losses = lines.Select(l => LossLine().Match(l)).Where(m => m.Success)
            .Select(m => (Step: Int(m, "step"), Loss: Double(m, "loss"))).ToArray();
        Assert.That(losses.Select(l => l.Step), Is.EqualTo(Enumerable.Range(1, Steps)), "one loss line per step");
        Assert.That(losses.Select(l => l.Loss), Has.All.Matches<double>(double.IsFinite), "finite losses");
        Assert.That(losses.Select(l => l.Loss), Has.All.GreaterThan(0.0), "positive losses");
        // The quickstart seeds its data (Random(1)), so this threshold sees the same run every time: 4.55e-2 -> 1.56e-3 (29x).
        Assert.That(losses[^1].Loss, Is.Not.NaN.And.LessThan(losses[0].Loss / 5), "AdamW on the adapter learns the rank-1 change");

        var merge = lines.Select(l => MergeLine().Match(l)).SingleOrDefault(m => m.Success);
        Assert.That(merge, Is.Not.Null, "merge line");
        Assert.That(Double(merge!, "change"), Is.Not.NaN.And.LessThan(1e-5), "merged W0 gives the adapted layer's outputs (float32 rounding)");
        return lines;
    }

    [Test]
    public void A_missing_openblas_fails_the_cpu_device_with_the_resolvers_message()
    {
        var path = Missing + "libopenblas.so.0";
        var r = RunWithout("openblas", path, device: "cpu");
        Assert.That(r.Output, Does.Contain($"Native library for 'sara:openblas' not found. Tried: {path}."), r.ToString());
        Assert.That(r.Output, Does.Contain("Install OpenBLAS (Debian: apt-get install libopenblas0)"));
        Assert.That(r.Output, Does.Not.Contain("device:"), "fails at the device, before any output");
    }

    [Test]
    public void A_missing_lapacke_fails_at_first_use_the_rank_plans_svd()
    {
        var path = Missing + "liblapacke.so.3";
        var r = RunWithout("lapacke", path, device: "cpu");
        Assert.That(r.Output, Does.Contain($"Native library for 'sara:lapacke' not found. Tried: {path}."), r.ToString());
        Assert.That(r.Output, Does.Contain("Install LAPACKE (Debian: apt-get install liblapacke)"));
        Assert.That(r.Output, Does.Contain("device: cpu").And.Not.Contain("rank:"), "the device opens; the SVD is the first LAPACKE use");
    }

    [Test]
    public void A_missing_cuda_driver_fails_a_requested_gpu_with_the_resolvers_message()
    {
        var path = Missing + "libcuda.so.1";
        var r = RunWithout("cuda", path, device: "cuda");
        Assert.That(r.Output, Does.Contain("Device 'cuda' is not available"), r.ToString());
        Assert.That(r.Output, Does.Contain($"Native library for 'sara:cuda' not found. Tried: {path}."));
        Assert.That(r.Output, Does.Contain("Install the NVIDIA driver"));
    }

    /// <summary>Runs the quickstart on <paramref name="device"/> with one library forced to a missing file; it must fail.</summary>
    private static CliResult RunWithout(string library, string missingPath, string device)
    {
        var r = QuickstartConsumer.Instance.Run(new Dictionary<string, string>
        {
            ["SARA_DEVICE"] = device,
            ["SARA_NATIVE_OVERRIDE_" + library] = missingPath,
        });
        TestContext.Out.WriteLine(r.Output);
        Assert.That(r.ExitCode, Is.Not.Zero, r.ToString());
        Assert.That(r.Output, Does.Contain("NativeLibraryMissingException").Or.Contain("is not available"));
        Assert.That(r.Output, Does.Not.Contain("step 1:"));
        return r;
    }

    private static string DefaultDeviceName()
    {
        if (!GpuRuntime.TryCreate(out var gpu, out _)) return "cpu";
        gpu.Dispose();
        return "cuda";
    }

    private static int Int(Match m, string group) => int.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    private static double Double(Match m, string group) => double.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^rank: k = (?<k>\d+) of (?<of>\d+) \(reaches (?<reached>[\d.]+) % of the spectrum, tau = (?<tau>[\d.]+) %\); (?<trainable>\d+) trainable parameters vs \d+ dense$")]
    private static partial Regex RankLine();

    [GeneratedRegex(@"^step (?<step>\d+): loss (?<loss>\S+)$")]
    private static partial Regex LossLine();

    [GeneratedRegex(@"^merged: max \|change\| / max \|output\| = (?<change>\S+)$")]
    private static partial Regex MergeLine();
}
