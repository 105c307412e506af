using Sara.Bindings;
using Sara.Tests.Support;
using Emu = Sara.Bindings.Emulator;

[assembly: LogRandomSeed]

namespace Sara.Tests;

/// <summary>
/// Points the resolver at this checkout's emulator even when the test binaries live outside the tree; says the run's
/// seed; removes temp builds afterwards; and makes every emulator launch of the run go through two schedules (threads
/// and blocks forward, then reverse, from the same inputs): kernels are deterministic by design, so any difference in
/// the bits of a buffer fails the launch as a race. SARA_EMU_SCHEDULE, when set, decides instead (the sanitizer pass of CI uses it).
/// With SARA_EMU_COVERAGE=FILE the run ends by writing, per emulator kernel, its clean launches in the fast and the
/// checked variant (name, fast, checked; tab-separated): CI's sanitizer pass fails a kernel of kernels/*.cu that no
/// test ran clean in the checked variant (build.cake).
/// </summary>
[SetUpFixture]
public sealed class TestSetup
{
    public const string DefaultSchedules = "forward,reverse";

    [OneTimeSetUp]
    public void UseThisCheckoutsEmulator()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("SARA_EMU_LIBRARY")) && File.Exists(RepositoryPaths.EmulatorLibrary))
            Environment.SetEnvironmentVariable("SARA_EMU_LIBRARY", RepositoryPaths.EmulatorLibrary);
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("SARA_EMU_SCHEDULE")) && NativeLibraries.IsAvailable(Lib.Emulator))
            Assert.That(Emu.SetSchedule(DefaultSchedules), Is.Zero, Emu.LastError());
        TestContext.Progress.WriteLine($"random test inputs: {TestSeeds.Variable}={TestSeeds.RunSeed}{(TestSeeds.Forced ? " (forced)" : "")}; " +
                                       "a failing test's output repeats it with the command that replays its inputs");
    }

    [OneTimeTearDown]
    public void WriteKernelCoverageAndDeleteTempBuilds()
    {
        FakeCudaDriver.DeleteIfBuilt();
        var file = Environment.GetEnvironmentVariable("SARA_EMU_COVERAGE");
        if (string.IsNullOrEmpty(file) || !NativeLibraries.IsAvailable(Lib.Emulator)) return;
        var lines = Enumerable.Range(0, Emu.KernelCount())
            .Select(i => $"{Emu.KernelName(i)}\t{Emu.KernelCleanLaunches(i, false)}\t{Emu.KernelCleanLaunches(i, true)}");
        File.WriteAllLines(file, lines);
    }
}
