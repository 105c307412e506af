using Sara.Bindings;
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
    public void AFallbackToTheCpuKeepsItsReasonInTheDescriptionAndLogsIt()
    {
        TestDevices.RequireNoGpu();
        Assert.That(GpuRuntime.TryStart(0, out _, out var failure), Is.False);
        var lines = new List<string>();
        var savedLog = Devices.Log;
        Devices.Log = lines.Add;
        try
        {
            using var backend = Devices.Create("auto");
            Assert.That(backend, Is.InstanceOf<CpuBackend>());
            Assert.That(((CpuBackend)backend).GpuUnavailableReason, Is.EqualTo(failure!.Reason));
            Assert.That(backend.Description, Does.StartWith("cpu (").And.EndWith("; GPU not used: " + failure.Reason));
            Assert.That(lines, Is.EqualTo(new[] { "Sara.Native: using the CPU backend; the GPU is not available: " + failure.Reason }));
        }
        finally
        {
            Devices.Log = savedLog;
        }
        using var asked = Devices.Create("cpu");
        Assert.That(asked.Description, Does.Not.Contain("GPU not used"), "a CPU asked for by name has nothing to explain");
    }

    [Test]
    public void AnUnknownNameIsAnArgumentError()
    {
        var e = Assert.Throws<ArgumentException>(() => Devices.Create("tpu"));
        Assert.That(e!.Message, Does.Contain("'tpu'").And.Contain("cpu, emu or cuda"));
    }
}
