// DeviceGate.cs — the first thing bench/Sara.DeviceCheck does: open the GPU, or say "no CUDA device" and give the
// non-zero exit code. NUnit-free (compiled into the device check; the tests call it directly too).
using Sara.Native.Runtime;

namespace Sara.Tests.DeviceCheck;

public static class DeviceGate
{
    /// <summary>Exit code of the device check when there is no usable GPU.</summary>
    public const int NoDeviceExitCode = 3;

    /// <summary>The GPU runtime on device <paramref name="ordinal"/>, or null after writing "no CUDA device: why" to <paramref name="error"/>.</summary>
    public static GpuRuntime? Open(int ordinal, TextWriter error)
    {
        if (GpuRuntime.TryCreate(ordinal, out var gpu, out var whyNot)) return gpu;
        error.WriteLine(whyNot.StartsWith("no CUDA device", StringComparison.Ordinal) ? whyNot : $"no CUDA device: {whyNot}");
        return null;
    }
}
