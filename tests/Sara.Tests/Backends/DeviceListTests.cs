using Sara.Native.Backends;
using Sara.Native.Runtime;

namespace Sara.Tests.Backends;

/// <summary>`--device cuda:0,cuda:1`: lists of devices (emu:N stands in for several GPUs here) and their errors.</summary>
public class DeviceListTests
{
    [Test]
    public void AListMakesOneBackendPerDevice()
    {
        var backends = Devices.CreateAll("emu:0, emu:1");
        try
        {
            Assert.That(backends.Select(b => b.Name), Is.EqualTo(new[] { "emu", "emu" }));
            Assert.That(backends[0], Is.Not.SameAs(backends[1]));
        }
        finally
        {
            foreach (var b in backends) b.Dispose();
        }
        var single = Devices.CreateAll("cpu");
        Assert.That(single.Single().Name, Is.EqualTo("cpu"));
        single[0].Dispose();
    }

    [TestCase("emu:0,emu:0", "appears twice"), TestCase("cpu,emu", "needs its index"), TestCase("emu:0,,emu:1", "empty entry"),
     TestCase("emu:x", "Unknown device")]
    public void BadListsSayWhy(string list, string message)
    {
        var e = Assert.Catch<ArgumentException>(() => Devices.CreateAll(list));
        Assert.That(e!.Message, Does.Contain(message));
    }

    [Test]
    public void AMissingGpuOrdinalSaysWhy()
    {
        if (GpuRuntime.TryCreate(out var gpu, out _))
        {
            gpu.Dispose();
            Assert.Ignore("a CUDA device is present: the unavailable path cannot be observed here");
        }
        var e = Assert.Throws<InvalidOperationException>(() => Devices.CreateAll("cuda:0,cuda:1"));
        Assert.That(e!.Message, Does.Contain("cuda:0").And.Contain("not available"));
    }
}
