using System.Diagnostics;
using Sara.Bindings;
using Sara.Native.Backends;
using Sara.Native.Runtime;
using Sara.Tests.DeviceCheck;
using Sara.Tests.Support;

namespace Sara.Tests.Backends;

/// <summary>
/// A GPU that is there but cannot start must fail GPU tests, not skip them: only "no NVIDIA device" (no driver library,
/// or the driver finds no device) is a skip. Simulated with the resolver's seams: a forced driver file that does not
/// load (in this process), and, in child processes, a fake libcuda (Support/fake_libcuda.c) that reports one device
/// while cuBLAS is forced to a missing file, or that reports no device or a driver error from cuInit.
/// </summary>
[NonParallelizable]
public class GpuStartFailureTests
{
    private const string Missing = "/nonexistent/sara-test/missing.so";

    /// <summary>The two GPU tests the child runs select: one through GpuRuntimeTests' fixture, one through TestDevices.</summary>
    private const string GpuTests =
        "FullyQualifiedName=Sara.Tests.Bindings.GpuRuntimeTests.Memory_round_trips_and_memset|" +
        "(TestCategory=gpu&FullyQualifiedName~Sara.Tests.Kernels.ElementwiseAndReductionTests.AdamWStepsMatchOracle)";

    [Test]
    public void OnlyAMissingDeviceSkipsEveryOtherStartFailureFails()
    {
        var skip = Assert.Throws<IgnoreException>(() => TestDevices.SkipOrFail(new GpuStartFailure("no CUDA device", NoDevice: true)));
        Assert.That(skip!.Message, Does.StartWith("no CUDA device"));
        var fail = Assert.Throws<AssertionException>(() => TestDevices.SkipOrFail(new GpuStartFailure("no cuBLAS: libcublas.so.12 not found", NoDevice: false)));
        Assert.That(fail!.Message, Does.Contain("failed to start").And.Contain("no cuBLAS: libcublas.so.12 not found"));
    }

    [Test]
    public void AForcedDriverFileThatDoesNotLoadIsABrokenGpuNotAMissingOne()
    {
        NativeLibraries.Override(Lib.Cuda, Missing);
        try
        {
            Assert.That(GpuRuntime.TryStart(0, out var gpu, out var failure), Is.False);
            Assert.That(gpu, Is.Null);
            Assert.That(failure!.NoDevice, Is.False, failure.Reason);
            Assert.That(failure.Reason, Does.Contain("override").And.Contain(Missing));
            Assert.That(Assert.Throws<AssertionException>(() => TestDevices.Create("cuda"))!.Message, Does.Contain(Missing));
            // The default device does not quietly fall back to the CPU over a broken GPU setup.
            var e = Assert.Throws<InvalidOperationException>(() => Devices.Create(""));
            Assert.That(e!.Message, Does.Contain("cannot start").And.Contain(Missing).And.Contain("SARA_DEVICE=cpu"));
            Assert.That(Assert.Throws<InvalidOperationException>(() => Devices.Create("cuda"))!.Message, Does.Contain("not available").And.Contain(Missing));
        }
        finally
        {
            NativeLibraries.ClearOverride(Lib.Cuda);
        }
    }

    [Test]
    public void WhereTheGpuLacksCuBlasTheGpuTestsFailWithTheReason()
    {
        var results = ChildTestRun.Run(GpuTests, FakeDriver(cuInit: 0, ("SARA_NATIVE_OVERRIDE_cublas", Missing)));
        Assert.That(results, Has.Count.EqualTo(2), string.Join("\n", results));
        foreach (var r in results)
        {
            Assert.That(r.Outcome, Is.EqualTo("Failed"), r.ToString());
            Assert.That(r.Message, Does.Contain("failed to start").And.Contain("no cuBLAS").And.Contain(Missing), r.ToString());
        }
    }

    [Test]
    public void WhereTheDriverFindsNoDeviceTheGpuTestsSkip()
    {
        var results = ChildTestRun.Run(GpuTests, FakeDriver(cuInit: 100)); // CUDA_ERROR_NO_DEVICE
        Assert.That(results, Has.Count.EqualTo(2), string.Join("\n", results));
        foreach (var r in results)
        {
            Assert.That(r.Outcome, Is.EqualTo("NotExecuted"), r.ToString());
            Assert.That(r.Message, Does.Contain("no CUDA device"), r.ToString());
        }
    }

    // The device check (bench/Sara.DeviceCheck) tells the cases apart by exit code: 3 no device, 4 a GPU that cannot start.
    [TestCase(0, "SARA_NATIVE_OVERRIDE_cublas", DeviceGate.StartFailedExitCode, "GPU runtime failed to start: no cuBLAS")]
    [TestCase(0, "SARA_NATIVE_OVERRIDE_cusolver", DeviceGate.StartFailedExitCode, "GPU runtime failed to start: no cuSOLVER")]
    [TestCase(999, "", DeviceGate.StartFailedExitCode, "CUDA driver failed to initialise: cuInit returned CUDA_ERROR_UNKNOWN")]
    [TestCase(100, "", DeviceGate.NoDeviceExitCode, "no CUDA device")]
    [TestCase(34, "", DeviceGate.NoDeviceExitCode, "stub")]
    public void TheDeviceCheckExitCodeSaysWhichCase(int cuInit, string missingLibrary, int exitCode, string message)
    {
        var env = FakeDriver(cuInit, missingLibrary.Length > 0 ? [(missingLibrary, Missing)] : []);
        // Past cuBLAS the probe only loads it: any loadable file stands in for it where this machine has none.
        if (missingLibrary == "SARA_NATIVE_OVERRIDE_cusolver") env["SARA_NATIVE_OVERRIDE_cublas"] = FakeCudaDriver.Path;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(DeviceCheckBinary.Locate());
        psi.ArgumentList.Add("--skip-timing");
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        Assert.That(p.WaitForExit(120_000), Is.True, "the device check must give up quickly");
        Assert.That(p.ExitCode, Is.EqualTo(exitCode), $"stdout: {stdout.Result}\nstderr: {stderr.Result}");
        Assert.That(stderr.Result, Does.Contain(message));
    }

    private static Dictionary<string, string> FakeDriver(int cuInit, params (string Name, string Value)[] more)
    {
        var env = new Dictionary<string, string>
        {
            [NativeLibraries.OverrideVariable(Lib.Cuda)] = FakeCudaDriver.Path,
            ["SARA_FAKE_CUINIT"] = cuInit.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        foreach (var (k, v) in more) env[k] = v;
        return env;
    }
}
