// Common setup for the emulator self-tests: the library must load; the worker count is restored after each test.
using Emu = Sara.Bindings.Emulator;

namespace Sara.Tests.Emulator;

public abstract class EmulatorTestBase
{
    [OneTimeSetUp]
    public void RequireEmulator() => EmuHost.RequireLibrary();

    [TearDown]
    public void RestoreThreads() => Emu.SetThreads(0);
}
