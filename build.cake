// build.cake — targets: Kernels, Emulator, Build, Test, Bench, Demo, Pack.
// Run through ./build.sh, which installs the system packages first.
using System.Xml.Linq;

var target = Argument("target", "Demo");
var configuration = Argument("configuration", "Release");
var root = MakeAbsolute(Directory("."));
var artifacts = root.Combine("artifacts");
var testResults = artifacts.Combine("test-results");

void Run(string file, string args, string workingDir = null)
{
    var settings = new ProcessSettings { Arguments = args, WorkingDirectory = workingDir ?? root.FullPath };
    var rc = StartProcess(file, settings);
    if (rc != 0) throw new Exception($"'{file} {args}' exited with {rc}");
}

Task("Kernels")
    .Description("Fatbin with nvcc when present (SASS sm_80/sm_90 + PTX); otherwise NVRTC compiles at first use.")
    .Does(() => Run("bash", "scripts/build-fatbin.sh"));

Task("Emulator")
    .Description("Builds artifacts/native/libsara_emu.so: the kernels compiled by g++ with CUDA semantics.")
    .Does(() =>
{
    Run("cmake", "-S kernels/emu -B artifacts/emu-build -DCMAKE_BUILD_TYPE=Release -Wno-dev");
    Run("cmake", "--build artifacts/emu-build -j2");
});

Task("Build")
    .IsDependentOn("Kernels")
    .IsDependentOn("Emulator")
    .Does(() =>
{
    DotNetBuild("Sara.Native.sln", new DotNetBuildSettings { Configuration = configuration });
});

// The emulator kernel tests (tests/sanitizer-pass.filter) run a second time in sanitizer mode: the checked variant of
// every kernel (memcheck, racecheck, initcheck, synccheck; kernels/emu/README.md), under a third thread and block order.
// The first pass already replays every launch forward and reverse (tests/Sara.Tests/TestSetup.cs); replaying the
// checked launches too would add about half to this pass for orders the first pass has compared.
const string SanitizerSchedules = "shuffle:1";

Task("Test")
    .Description("All tests, then the emulator kernel tests in sanitizer mode; the summary line 'N passed, N failed, N skipped' " +
                 "(both passes) is written to artifacts/test-results/summary.txt.")
    .IsDependentOn("Build")
    .Does(() =>
{
    CleanDirectory(testResults);
    int RunTests(string trx, string extraArgs, IDictionary<string, string> env) => StartProcess("dotnet", new ProcessSettings
    {
        Arguments = $"test tests/Sara.Tests -c {configuration} --no-build --results-directory \"{testResults}\" " +
                    $"--logger \"trx;LogFileName={trx}\" --logger \"console;verbosity=normal\" {extraArgs}",
        WorkingDirectory = root.FullPath,
        EnvironmentVariables = env,
    });
    var rc = RunTests("results.trx", "", new Dictionary<string, string>());
    var filter = System.IO.File.ReadAllText(root.CombineWithFilePath("tests/sanitizer-pass.filter").FullPath).Trim();
    Information($"Sanitizer pass: the emulator kernel tests again with SARA_EMU_SANITIZE=1, SARA_EMU_SCHEDULE={SanitizerSchedules}");
    var coverage = testResults.CombineWithFilePath("sanitizer-kernels.tsv").FullPath;
    var sanitizerRc = RunTests("sanitizer.trx", $"--filter \"{filter}\"",
        new Dictionary<string, string> { ["SARA_EMU_SANITIZE"] = "1", ["SARA_EMU_SCHEDULE"] = SanitizerSchedules, ["SARA_EMU_COVERAGE"] = coverage });
    // Every kernel of kernels/*.cu must have run clean in its checked variant at least once in that pass.
    var notRunChecked = System.IO.File.Exists(coverage)
        ? System.IO.File.ReadAllLines(coverage).Select(l => l.Split('\t'))
            .Where(f => f.Length == 3 && !f[0].StartsWith("emu_selftest_") && f[2] == "0").Select(f => f[0]).ToList()
        : new List<string> { "(no kernel list: the sanitizer pass did not finish)" };
    if (notRunChecked.Count > 0) Error($"Sanitizer pass: no clean checked launch of {string.Join(", ", notRunChecked)}");
    else Information($"Sanitizer pass: every kernel ran clean in its checked variant ({System.IO.File.ReadAllLines(coverage).Length} kernels)");

    // Count the per-test outcomes of both passes (the Counters element leaves NUnit's skipped tests out of notExecuted).
    int passed = 0, failed = 0, skipped = 0;
    foreach (var name in new[] { "results.trx", "sanitizer.trx" })
    {
        var trx = testResults.CombineWithFilePath(name).FullPath;
        if (!System.IO.File.Exists(trx)) { failed++; continue; }
        var outcomes = XDocument.Load(trx).Descendants().Where(e => e.Name.LocalName == "UnitTestResult")
            .Select(e => (string)e.Attribute("outcome")).ToList();
        var p = outcomes.Count(o => o == "Passed");
        var s = outcomes.Count(o => o == "NotExecuted" || o == "Inconclusive");
        passed += p;
        skipped += s;
        failed += outcomes.Count - p - s;
    }
    if (notRunChecked.Count > 0) failed++;
    var summary = $"{passed} passed, {failed} failed, {skipped} skipped";
    System.IO.File.WriteAllText(testResults.CombineWithFilePath("summary.txt").FullPath, summary + "\n");
    if (rc != 0) throw new Exception($"dotnet test exited with {rc}: {summary}");
    if (sanitizerRc != 0) throw new Exception($"the sanitizer pass exited with {sanitizerRc}: {summary}");
    if (notRunChecked.Count > 0) throw new Exception($"kernels the sanitizer pass did not run: {string.Join(", ", notRunChecked)}: {summary}");
});

Task("Demo")
    .Description("The main job: the end-to-end demo on the default device.")
    .IsDependentOn("Build")
    .Does(() => Run("dotnet", $"run --project src/Sara.Cli -c {configuration} --no-build -- demo --out artifacts/demo"));

Task("Bench")
    .Description("BenchmarkDotNet: SARA / Mo-SARA / dense ratios, written to bench/results/.")
    .IsDependentOn("Build")
    .Does(() => Run("dotnet", $"run --project bench/Sara.Bench -c {configuration} --no-build -- --results bench/results"));

Task("Pack")
    .IsDependentOn("Build")
    .Does(() =>
{
    DotNetPack("src/Sara.Native/Sara.Native.csproj", new DotNetPackSettings
    {
        Configuration = configuration, NoBuild = true, OutputDirectory = artifacts.Combine("packages"),
    });
    DotNetPack("bindings/Sara.Bindings/Sara.Bindings.csproj", new DotNetPackSettings
    {
        Configuration = configuration, NoBuild = true, OutputDirectory = artifacts.Combine("packages"),
    });
});

RunTarget(target);
