// DeviceCheckTests.cs — bench/Sara.DeviceCheck without a GPU: the process exits non-zero saying "no CUDA device";
// and its parity cases are the very ones the emulator tests run.
using System.Diagnostics;
using Sara.Native.Runtime;
using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.Kernels;
using Sara.Tests.Layers;
using Sara.Tests.MixedPrecision;
using Sara.Tests.Routing;
using Sara.Tests.Support;

namespace Sara.Tests.DeviceCheck;

public class DeviceCheckTests
{
    [Test]
    public void GateSaysNoCudaDevice()
    {
        TestDevices.RequireNoGpu();
        var error = new StringWriter();
        using var gpu = DeviceGate.Open(0, error);
        Assert.That(gpu, Is.Null);
        Assert.That(error.ToString(), Does.StartWith("no CUDA device"));
    }

    [Test]
    public void ProcessExitsNonZeroWithNoCudaDevice()
    {
        TestDevices.RequireNoGpu();
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
        // The cases NUnit runs on the emulated devices, as the device check labels them, must be the catalog's, in order:
        // a test that stopped using the shared shapes (or a catalog that dropped some) would leave GPU cases unchecked.
        static string[] Labels(IEnumerable<TestCaseData> cases, Func<object?[], string> label) =>
            cases.Where(c => Equals(c.Arguments[0], "cpu")).Select(c => label(c.Arguments)).ToArray();
        string[] Catalog(string family) => ParityCatalog.All().Where(c => c.Family == family).Select(c => c.Label).ToArray();

        var lowRank = Labels(LowRankForwardTests.EmulatedCases(), a => $"T{a[1]} n{a[2]} m{a[3]} k{a[4]}");
        var sara = Labels(SaraLinearGradientTests.Cases(), a => $"T{a[1]} n{a[2]} m{a[3]} k{a[4]}");
        var routing = Labels(RoutingParityTests.EmulatedCases(), a => $"T{a[1]} E{a[2]} k{a[3]} top{a[4]} beta{a[5]}");
        Assert.That(lowRank, Is.Not.Empty);
        Assert.That(sara, Is.Not.Empty);
        Assert.That(routing, Is.Not.Empty);
        Assert.That(Catalog("lowrank-forward"), Is.EqualTo(lowRank));
        Assert.That(Catalog("sara-layer"), Is.EqualTo(sara));
        Assert.That(Catalog("routing"), Is.EqualTo(routing));
        // The 16-bit families: their NUnit cases carry the catalog's ParityCase itself.
        var gemm16 = Labels(MixedGemmTests.EmulatedCases(), a => ((ParityCase)a[1]!).Label);
        var sara16 = Labels(MixedPrecisionLayerTests.W0Cases(), a => ((ParityCase)a[1]!).Label);
        Assert.That(gemm16, Has.Length.EqualTo(Gemm16Parity.Types.Length * Gemm16Parity.Shapes.Length));
        Assert.That(sara16, Has.Length.EqualTo(2 * SaraLayerParity.Shapes.Length), "bf16 and f16 W0");
        Assert.That(Catalog("gemm-16bit"), Is.EqualTo(gemm16));
        Assert.That(Catalog("sara-layer-16bit"), Is.EqualTo(sara16));
        var activations16 = Labels(MixedPrecisionLayerTests.ActivationCases(), a => ((ParityCase)a[1]!).Label);
        Assert.That(activations16, Has.Length.EqualTo(4 * SaraLayerParity.Shapes.Length), "bf16 and f16 activations over f32 and bf16 W0");
        Assert.That(Catalog("sara-layer-16bit-activations"), Is.EqualTo(activations16));
        var kernels16 = Kernels16Tests.EmulatedCases().Where(c => Equals(c.Arguments[0], "cpu")).Select(c => (ParityCase)c.Arguments[1]!).ToArray();
        string[] kernelFamilies = ["rank-fwd-16bit", "rank-bwd-16bit", "colsum-16bit", "axpby-16bit", "addrow-16bit"];
        foreach (var family in kernelFamilies)
        {
            var tested = kernels16.Where(c => c.Family == family).Select(c => c.Label).ToArray();
            Assert.That(tested, Is.Not.Empty, family);
            Assert.That(Catalog(family), Is.EqualTo(tested), family);
        }
        Assert.That(ParityCatalog.All().Select(c => c.Family).Distinct(),
            Is.EquivalentTo(new[] { "lowrank-forward", "sara-layer", "routing", "gemm-16bit", "sara-layer-16bit", "sara-layer-16bit-activations" }
                .Concat(kernelFamilies)),
            "a new family in the catalog needs its emulator tests compared here");
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
