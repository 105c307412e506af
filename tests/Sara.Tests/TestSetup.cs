using Sara.Tests.Support;

namespace Sara.Tests;

/// <summary>Points the resolver at this checkout's emulator even when the test binaries live outside the tree.</summary>
[SetUpFixture]
public sealed class TestSetup
{
    [OneTimeSetUp]
    public void UseThisCheckoutsEmulator()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("SARA_EMU_LIBRARY")) && File.Exists(RepositoryPaths.EmulatorLibrary))
            Environment.SetEnvironmentVariable("SARA_EMU_LIBRARY", RepositoryPaths.EmulatorLibrary);
    }
}
