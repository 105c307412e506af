// DeviceGate.cs — the first thing bench/Sara.DeviceCheck does: open the GPU, or say why not and give the exit code:
// "no CUDA device" (3) where the machine has no NVIDIA GPU, "GPU runtime failed to start" (4) where one is there but its
// runtime cannot start. NUnit-free (compiled into the device check; the tests call it directly too).
using Sara.Native.Runtime;

namespace Sara.Tests.DeviceCheck;

public static class DeviceGate
{
    /// <summary>Exit code of the device check when the machine has no NVIDIA GPU.</summary>
    public const int NoDeviceExitCode = 3;

    /// <summary>Exit code of the device check when a GPU is there but its runtime cannot start (driver error, no cuBLAS, ...).</summary>
    public const int StartFailedExitCode = 4;

    /// <summary>The GPU runtime on device <paramref name="ordinal"/>, or null after writing why not to <paramref name="error"/>.</summary>
    public static GpuRuntime? Open(int ordinal, TextWriter error) => Open(ordinal, error, out _);

    /// <summary>Like <see cref="Open(int, TextWriter)"/>, with the exit code the device check gives when it is null.</summary>
    public static GpuRuntime? Open(int ordinal, TextWriter error, out int exitCode)
    {
        exitCode = 0;
        if (GpuRuntime.TryStart(ordinal, out var gpu, out var failure)) return gpu;
        if (failure.NoDevice)
        {
            exitCode = NoDeviceExitCode;
            error.WriteLine(failure.Reason.StartsWith("no CUDA device", StringComparison.Ordinal) ? failure.Reason : $"no CUDA device: {failure.Reason}");
        }
        else
        {
            exitCode = StartFailedExitCode;
            error.WriteLine($"GPU runtime failed to start: {failure.Reason}");
        }
        return null;
    }
}
