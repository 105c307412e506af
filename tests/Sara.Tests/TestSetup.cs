using Sara.Tests.Support;

[assembly: LogRandomSeed]

namespace Sara.Tests;

/// <summary>Points the resolver at this checkout's emulator even when the test binaries live outside the tree; says the run's seed; removes temp builds afterwards.</summary>
[SetUpFixture]
public sealed class TestSetup
{
    [OneTimeSetUp]
    public void UseThisCheckoutsEmulator()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("SARA_EMU_LIBRARY")) && File.Exists(RepositoryPaths.EmulatorLibrary))
            Environment.SetEnvironmentVariable("SARA_EMU_LIBRARY", RepositoryPaths.EmulatorLibrary);
        TestContext.Progress.WriteLine($"random test inputs: {TestSeeds.Variable}={TestSeeds.RunSeed}{(TestSeeds.Forced ? " (forced)" : "")}; " +
                                       "a failing test's output repeats it with the command that replays its inputs");
    }

    [OneTimeTearDown]
    public void DeleteTempBuilds() => FakeCudaDriver.DeleteIfBuilt();
}
