// scripts/build-fatbin.sh with a fake nvcc that, like Debian's nvcc 11.8 beside gcc 12, refuses the default host
// compiler: the script finds one nvcc accepts, or skips the fatbins with one warning line; it never fails the build
// for want of a toolchain, and still fails for a kernel that does not compile.
using System.Diagnostics;
using Sara.Tests.Support;

namespace Sara.Tests.Build;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class FatbinScriptTests
{
    private string _dir = "";

    private string Bin => Path.Combine(_dir, "bin");
    private string Out => Path.Combine(_dir, "out");
    private string Log => Path.Combine(_dir, "nvcc.log");

    private static readonly string[] Kernels = Directory.GetFiles(RepositoryPaths.Kernels, "*.cu").Select(Path.GetFileNameWithoutExtension).Order().ToArray()!;

    [SetUp]
    public void MakeFakeToolchain()
    {
        _dir = Path.Combine(Path.GetTempPath(), "sara-fatbin-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Bin);
        Directory.CreateDirectory(Out);
        // Accepts only the host compiler in FAKE_NVCC_ACCEPTS ("default" = no -ccbin); fails kernels named in FAKE_NVCC_FAILS.
        Script("nvcc", """
            #!/usr/bin/env bash
            echo "$*" >> "$FAKE_NVCC_LOG"
            if [ "$1" = "--version" ]; then echo "Cuda compilation tools, release 11.8, V11.8.89"; exit 0; fi
            ccbin=default; out=""; src=""
            while [ $# -gt 0 ]; do
              case "$1" in -ccbin) ccbin="$2"; shift 2;; -o) out="$2"; shift 2;; *.cu) src="$1"; shift;; *) shift;; esac
            done
            if [ "$ccbin" != "$FAKE_NVCC_ACCEPTS" ]; then
              echo "nvcc fatal   : No supported gcc/g++ host compiler found, but clang-14 is available. Use '-ccbin clang-14' to use it." >&2
              exit 1
            fi
            if [ -n "${FAKE_NVCC_FAILS:-}" ] && [[ "$src" == *"$FAKE_NVCC_FAILS"* ]]; then echo "$src(1): error: broken" >&2; exit 2; fi
            echo "fatbin of $src" > "$out"
            """);
        Script("clang-14", "#!/usr/bin/env bash\nexit 0\n");
        Script("my-cc", "#!/usr/bin/env bash\nexit 0\n");
        File.WriteAllText(Path.Combine(Out, "stale.fatbin"), "from an earlier toolchain");
    }

    [TearDown]
    public void Remove()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private void Script(string name, string text)
    {
        var path = Path.Combine(Bin, name);
        File.WriteAllText(path, text.Replace("\r", ""));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private (int Code, string[] Lines, string Err) RunScript(string accepts, string? ccbinEnv = null, string? fails = null)
    {
        var psi = new ProcessStartInfo("bash", [Path.Combine(RepositoryPaths.Root, "scripts", "build-fatbin.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["PATH"] = Bin + ":" + Environment.GetEnvironmentVariable("PATH");
        psi.Environment["NVCC"] = Path.Combine(Bin, "nvcc");
        psi.Environment["SARA_FATBIN_OUT"] = Out;
        psi.Environment["FAKE_NVCC_LOG"] = Log;
        psi.Environment["FAKE_NVCC_ACCEPTS"] = accepts;
        psi.Environment.Remove("NVCC_CCBIN");
        if (ccbinEnv is not null) psi.Environment["NVCC_CCBIN"] = ccbinEnv;
        if (fails is not null) psi.Environment["FAKE_NVCC_FAILS"] = fails;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        Assert.That(p.WaitForExit(120_000), Is.True, "the script finished");
        TestContext.Out.WriteLine(stdout.Result + stderr);
        return (p.ExitCode, stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries), stderr);
    }

    private string[] Fatbins() => Directory.GetFiles(Out, "*.fatbin").Select(Path.GetFileNameWithoutExtension).Order().ToArray()!;

    [Test]
    public void NvccThatRefusesEveryHostCompilerSkipsTheFatbinsWithOneWarning()
    {
        var (code, lines, err) = RunScript(accepts: "nothing");
        Assert.That(code, Is.EqualTo(0), "an optional toolchain never fails the build");
        Assert.That(lines, Has.Length.EqualTo(1));
        Assert.That(lines[0], Does.StartWith("build-fatbin: warning:").And.Contain("NVRTC").And.Contain("No supported gcc/g++ host compiler"));
        Assert.That(err, Is.Empty);
        Assert.That(Fatbins(), Is.Empty, "no fatbin, not even a stale one, shadows NVRTC");
    }

    [Test]
    public void TheCompilerNvccSuggestsIsUsedForEveryKernel()
    {
        var (code, lines, _) = RunScript(accepts: "clang-14");
        Assert.That(code, Is.EqualTo(0));
        Assert.That(lines[0], Does.Contain("host compiler clang-14"));
        Assert.That(Fatbins(), Is.EqualTo(Kernels));
        var kernelCalls = File.ReadAllLines(Log).Where(l => l.Contains("-O3")).ToList();
        Assert.That(kernelCalls, Has.Count.EqualTo(Kernels.Length));
        Assert.That(kernelCalls, Has.All.StartWith("-ccbin clang-14 "));
    }

    [Test]
    public void NvccCcbinNamesTheHostCompiler()
    {
        var (code, lines, _) = RunScript(accepts: "my-cc", ccbinEnv: "my-cc");
        Assert.That(code, Is.EqualTo(0));
        Assert.That(lines[0], Does.Contain("host compiler my-cc"));
        Assert.That(Fatbins(), Is.EqualTo(Kernels));
    }

    [Test]
    public void NvccCcbinThatNvccRefusesSkipsWithOneWarning()
    {
        var (code, lines, _) = RunScript(accepts: "clang-14", ccbinEnv: "my-cc");
        Assert.That(code, Is.EqualTo(0));
        Assert.That(lines, Has.Length.EqualTo(1));
        Assert.That(lines[0], Does.StartWith("build-fatbin: warning:").And.Contain("my-cc"));
        Assert.That(Fatbins(), Is.Empty);
    }

    [Test]
    public void AWorkingDefaultNeedsNoCcbin()
    {
        var (code, _, _) = RunScript(accepts: "default");
        Assert.That(code, Is.EqualTo(0));
        Assert.That(Fatbins(), Is.EqualTo(Kernels));
        Assert.That(File.ReadAllLines(Log).Where(l => l.Contains("-ccbin")), Is.Empty);
    }

    [Test]
    public void AKernelThatDoesNotCompileStillFailsTheBuild()
    {
        var (code, _, err) = RunScript(accepts: "clang-14", fails: "lowrank.cu");
        Assert.That(code, Is.Not.EqualTo(0), "a broken kernel is an error, not a missing toolchain");
        Assert.That(err, Does.Contain("lowrank.cu"));
    }
}
