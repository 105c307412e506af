using Sara.Native.Backends;
using Sara.Native.Runtime;

namespace Sara.Tests.Support;

/// <summary>
/// Backends for parity tests. "cpu" and "emu" always run (a missing emulator is a failure, never a skip);
/// "cuda" skips with reason "no CUDA device" where there is none.
/// </summary>
public static class TestDevices
{
    public static readonly string[] Emulated = ["cpu", "emu"];
    public static readonly string[] All = ["cpu", "emu", "cuda"];

    public static Backend Create(string device)
    {
        if (device == "cuda")
        {
            if (!GpuRuntime.TryCreate(out var gpu, out var whyNot)) Assert.Ignore($"no CUDA device ({whyNot})");
            return new CudaBackend(gpu!);
        }
        if (device == "emu")
        {
            Assert.That(EmulatedRuntime.TryCreate(out var emu, out var why), Is.True,
                $"The emulator must load (build it with ./build.sh --target=Emulator): {why}");
            return new CudaBackend(emu!);
        }
        return Devices.Create(device);
    }
}
