using Sara.Bindings;
using Sara.Native.Backends;
using Sara.Native.Runtime;

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
        var hasGpu = GpuRuntime.TryCreate(out var probe, out _);
        probe?.Dispose();
        using var backend = Devices.Create();
        Assert.That(backend.Name, Is.EqualTo(hasGpu ? "cuda" : "cpu"));
    }

    [Test]
    public void AnUnavailableCudaDeviceSaysWhy()
    {
        if (GpuRuntime.TryCreate(out var gpu, out _))
        {
            gpu.Dispose();
            Assert.Ignore("a CUDA device is present: the unavailable path cannot be observed here");
        }
        var e = Assert.Throws<InvalidOperationException>(() => Devices.Create("cuda"));
        Assert.That(e!.Message, Does.StartWith("Device 'cuda' is not available: no CUDA"));
    }

    [Test]
    public void AFallbackToTheCpuKeepsItsReasonInTheDescriptionAndLogsIt()
    {
        // With the driver made unloadable (on any machine), the default device must fall back and say why.
        const string missing = "/nonexistent/sara-test/libcuda.so.1";
        var lines = new List<string>();
        var savedLog = Devices.Log;
        NativeLibraries.Override(Lib.Cuda, missing);
        Devices.Log = lines.Add;
        try
        {
            using var backend = Devices.Create("auto");
            Assert.That(backend, Is.InstanceOf<CpuBackend>());
            var reason = $"no CUDA driver: Native library for 'sara:cuda' not found. Tried: {missing}.";
            Assert.That(((CpuBackend)backend).GpuUnavailableReason, Does.StartWith(reason));
            Assert.That(backend.Description, Does.StartWith("cpu (").And.Contain("; GPU not used: " + reason));
            Assert.That(lines, Has.Count.EqualTo(1));
            Assert.That(lines[0], Does.StartWith("Sara.Native: using the CPU backend; the GPU is not available: " + reason));
        }
        finally
        {
            Devices.Log = savedLog;
            NativeLibraries.ClearOverride(Lib.Cuda);
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
