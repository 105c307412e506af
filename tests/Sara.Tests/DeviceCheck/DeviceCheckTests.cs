// DeviceCheckTests.cs — bench/Sara.DeviceCheck without a GPU: the process exits non-zero saying "no CUDA device";
// and its parity cases are the very ones the emulator tests run.
using System.Diagnostics;
using Sara.Native.Runtime;
using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.Kernels;
using Sara.Tests.Routing;
using Sara.Tests.Support;

namespace Sara.Tests.DeviceCheck;

public class DeviceCheckTests
{
    private static void RequireNoGpu()
    {
        if (GpuRuntime.TryCreate(out var gpu, out _))
        {
            gpu.Dispose();
            Assert.Ignore("a CUDA device is present: the no-GPU behaviour cannot be observed here");
        }
    }

    [Test]
    public void GateSaysNoCudaDevice()
    {
        RequireNoGpu();
        var error = new StringWriter();
        using var gpu = DeviceGate.Open(0, error);
        Assert.That(gpu, Is.Null);
        Assert.That(error.ToString(), Does.StartWith("no CUDA device"));
    }

    [Test]
    public void ProcessExitsNonZeroWithNoCudaDevice()
    {
        RequireNoGpu();
        var dll = DeviceCheckBinary.Locate();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        Assert.That(p.WaitForExit(120_000), Is.True, "the device check must give up quickly without a GPU");
        Assert.That(p.ExitCode, Is.EqualTo(DeviceGate.NoDeviceExitCode), $"stdout: {stdout.Result}\nstderr: {stderr.Result}");
        Assert.That(stderr.Result, Does.Contain("no CUDA device"));
    }

    [Test]
    public void ParityCasesAreTheEmulatorTestsCases()
    {
        Assert.That(LowRankForwardTests.Shapes, Is.SameAs(LowRankForwardParity.Shapes));
        Assert.That(RoutingParityTests.Shapes, Is.SameAs(RoutingParity.Shapes));
        var families = ParityCatalog.All().GroupBy(c => c.Family).ToDictionary(g => g.Key, g => g.Count());
        Assert.That(families["lowrank-forward"], Is.EqualTo(LowRankForwardParity.Shapes.Length));
        Assert.That(families["routing"], Is.EqualTo(RoutingParity.Shapes.Length));
        Assert.That(families["sara-layer"], Is.EqualTo(SaraLayerParity.Shapes.Length));
        Assert.That(families["sara-layer-16bit"], Is.EqualTo(2 * SaraLayerParity.Shapes.Length), "bf16 and f16 W0");
        Assert.That(families["gemm-16bit"], Is.EqualTo(Gemm16Parity.Types.Length * Gemm16Parity.Shapes.Length));
    }

    [Test]
    public void ParityCaseCatchesAWrongResult()
    {
        // A check must fail on a wrong or unwritten (NaN-poisoned) output, or the GPU run could not fail.
        var want = Oracle.D(new Rand().Normal(100));
        var wrong = Array.ConvertAll(want, v => (float)(v * 1.001));
        Assert.That(ParityCheck.Of("x", wrong, want, 1e-5).Passed, Is.False);
        var poisoned = Array.ConvertAll(want, v => (float)v);
        poisoned[17] = float.NaN;
        Assert.That(ParityCheck.Of("x", poisoned, want, 1e-5).Passed, Is.False);
        Assert.That(ParityCheck.Of("x", Array.ConvertAll(want, v => (float)v), want, 1e-5).Passed, Is.True);
    }
}
