namespace Sara.Native.Runtime;

/// <summary>Why a GPU runtime did not start, by kind.</summary>
public enum GpuStartFailureKind
{
    /// <summary>libcuda.so.1 is not loadable: no NVIDIA driver on this machine.</summary>
    NoDriver,

    /// <summary>The driver loads but sees no device (or not the one asked for).</summary>
    NoDevice,

    /// <summary>cuInit or a device query failed: a driver that is present but broken or mismatched.</summary>
    DriverFailed,

    /// <summary>cuBLAS or cuSOLVER is missing, or no soname fits the driver.</summary>
    MissingLibrary,

    /// <summary>No embedded fatbin fits and NVRTC is missing.</summary>
    NoKernelBinaries,

    /// <summary>A call while opening the context, stream or library handles failed, or the options were refused.</summary>
    StartFailed,
}

/// <summary>Why <see cref="GpuRuntime.TryCreate(RuntimeOptions, out GpuRuntime?, out GpuStartFailure?)"/> returned false.</summary>
public sealed record GpuStartFailure(GpuStartFailureKind Kind, string Message)
{
    /// <summary>True when there is no GPU to use at all (no driver, no device), as opposed to one that failed to start.</summary>
    public bool IsNoGpu => Kind is GpuStartFailureKind.NoDriver or GpuStartFailureKind.NoDevice;

    public override string ToString() => Message;
}
