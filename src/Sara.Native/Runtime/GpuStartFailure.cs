namespace Sara.Native.Runtime;

/// <summary>
/// Why <see cref="GpuRuntime.TryStart"/> did not open a GPU.
/// <see cref="NoDevice"/>: this machine has no NVIDIA GPU to use (no driver library, or the driver finds no device) —
/// the one case in which falling back to the CPU, or skipping a GPU test, is right. Otherwise a GPU is there but its
/// runtime cannot start (driver error, missing cuBLAS/cuSOLVER, no kernel binaries, a failing call): an error to report.
/// </summary>
public sealed record GpuStartFailure(string Reason, bool NoDevice)
{
    internal static GpuStartFailure Absent(string reason) => new(reason, true);

    internal static GpuStartFailure Broken(string reason) => new(reason, false);

    public override string ToString() => Reason;
}
