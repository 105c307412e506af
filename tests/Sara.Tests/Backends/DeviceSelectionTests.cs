using Sara.Native.Backends;
using Sara.Native.Runtime;
using Sara.Tests.Support;

namespace Sara.Tests.Backends;

/// <summary>Device choice: explicit names, SARA_DEVICE, the default, and a clear error for what is not available.</summary>
[NonParallelizable]
public class DeviceSelectionTests
{
    private string? _saved;

    [SetUp]
    public void SaveEnvironment() => _saved = Environment.GetEnvironmentVariable(Devices.EnvironmentVariable);

    [TearDown]
    public void RestoreEnvironment() => Environment.SetEnvironmentVariable(Devices.EnvironmentVariable, _saved);

    [TestCase("cpu", "cpu"), TestCase("emu", "emu"), TestCase(" CPU ", "cpu")]
    public void AnExplicitNamePicksThatBackend(string requested, string expected)
    {
        using var backend = Devices.Create(requested);
        Assert.That(backend.Name, Is.EqualTo(expected));
    }

    [Test]
    public void TheEnvironmentVariableIsUsedWhenNoNameIsGiven()
    {
        Environment.SetEnvironmentVariable(Devices.EnvironmentVariable, "emu");
        using var backend = Devices.Create();
        Assert.That(backend.Name, Is.EqualTo("emu"));
    }

    [Test]
    public void TheDefaultIsTheGpuWhenPresentElseTheCpu()
    {
        Environment.SetEnvironmentVariable(Devices.EnvironmentVariable, null);
        var hasGpu = GpuRuntime.TryStart(0, out var probe, out var failure);
        probe?.Dispose();
        if (!hasGpu && !failure!.NoDevice)
        {
            // A GPU that cannot start is an error, not a quiet fall back to the CPU (GpuStartFailureTests simulates it).
            Assert.That(Assert.Throws<InvalidOperationException>(() => Devices.Create())!.Message, Does.Contain(failure.Reason));
            return;
        }
        using var backend = Devices.Create();
        Assert.That(backend.Name, Is.EqualTo(hasGpu ? "cuda" : "cpu"));
    }

    [Test]
    public void AnUnavailableCudaDeviceSaysWhy()
    {
        TestDevices.RequireNoGpu();
        var e = Assert.Throws<InvalidOperationException>(() => Devices.Create("cuda"));
        Assert.That(e!.Message, Does.StartWith("Device 'cuda' is not available: no CUDA"));
    }

    [Test]
    public void AnUnknownNameIsAnArgumentError()
    {
        var e = Assert.Throws<ArgumentException>(() => Devices.Create("tpu"));
        Assert.That(e!.Message, Does.Contain("'tpu'").And.Contain("cpu, emu or cuda"));
    }
}
