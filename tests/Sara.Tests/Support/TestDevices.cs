using Sara.Native.Backends;
using Sara.Native.Runtime;

namespace Sara.Tests.Support;

/// <summary>
/// Backends for parity tests. "cpu" and "emu" always run (a missing emulator is a failure, never a skip). "cuda" skips
/// only where this machine has no NVIDIA GPU (no driver library, or the driver finds no device); a GPU runtime that
/// cannot start for any other reason (missing cuBLAS/cuSOLVER, a driver error, no kernel binaries) fails the test with
/// the reason, so a broken GPU setup can never pass as "no GPU here".
/// </summary>
public static class TestDevices
{
    public static readonly string[] Emulated = ["cpu", "emu"];
    public static readonly string[] All = ["cpu", "emu", "cuda"];

    public static Backend Create(string device)
    {
        if (device == "cuda") return new CudaBackend(OpenGpu());
        if (device == "emu")
        {
            Assert.That(EmulatedRuntime.TryCreate(out var emu, out var why), Is.True,
                $"The emulator must load (build it with ./build.sh --target=Emulator): {why}");
            return new CudaBackend(emu!);
        }
        return Devices.Create(device);
    }

    /// <summary>The GPU runtime on device 0; skips where there is no GPU, fails where one cannot start.</summary>
    public static GpuRuntime OpenGpu()
    {
        if (GpuRuntime.TryStart(0, out var gpu, out var failure)) return gpu;
        SkipOrFail(failure);
        throw new InvalidOperationException("unreachable: SkipOrFail always throws");
    }

    /// <summary>For tests of the no-GPU behaviour: returns where there is no GPU, skips where one works, fails where one is broken.</summary>
    public static void RequireNoGpu()
    {
        if (GpuRuntime.TryStart(0, out var gpu, out var failure))
        {
            gpu.Dispose();
            Assert.Ignore("a CUDA device is present: the no-GPU behaviour cannot be observed here");
        }
        if (!failure.NoDevice) Fail(failure);
    }

    /// <summary>Skips (Assert.Ignore) for "no NVIDIA device"; fails (Assert.Fail) for every other start failure.</summary>
    public static void SkipOrFail(GpuStartFailure failure)
    {
        if (failure.NoDevice) Assert.Ignore($"no CUDA device ({failure.Reason})");
        Fail(failure);
    }

    private static void Fail(GpuStartFailure failure) =>
        Assert.Fail($"the GPU runtime failed to start, and not for want of a device (so this fails rather than skips): {failure.Reason}");
}
