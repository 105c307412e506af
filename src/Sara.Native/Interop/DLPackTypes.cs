using System.Runtime.InteropServices;

namespace Sara.Native.Interop;

// The DLPack ABI (dmlc/dlpack, include/dlpack/dlpack.h, v1.x), field for field. Only what import and export use.

/// <summary>DLPackVersion: the ABI version of a <see cref="DLManagedTensorVersioned"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DLPackVersion
{
    public uint Major;
    public uint Minor;
}

/// <summary>DLDeviceType values this library imports or exports.</summary>
public enum DLDeviceType
{
    /// <summary>kDLCPU: host memory.</summary>
    Cpu = 1,
    /// <summary>kDLCUDA: CUDA device memory.</summary>
    Cuda = 2,
    /// <summary>kDLCUDAHost: pinned host memory (cudaMallocHost); host memory to this library.</summary>
    CudaHost = 3,
}

/// <summary>DLDevice.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DLDevice
{
    public DLDeviceType DeviceType;
    public int DeviceId;
}

/// <summary>DLDataTypeCode values this library reads.</summary>
public enum DLDataTypeCode : byte
{
    Int = 0,
    UInt = 1,
    Float = 2,
    OpaqueHandle = 3,
    Bfloat = 4,
}

/// <summary>DLDataType: code, bits, lanes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DLDataType
{
    public DLDataTypeCode Code;
    public byte Bits;
    public ushort Lanes;
}

/// <summary>DLTensor: data + byte_offset is the first element; strides in elements (null: compact row-major).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct DLTensor
{
    public nint Data;
    public DLDevice Device;
    public int NDim;
    public DLDataType DType;
    public long* Shape;
    public long* Strides;
    public ulong ByteOffset;
}

/// <summary>The legacy DLManagedTensor (DLPack &lt; 1.0): the tensor first, then manager_ctx and the deleter.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct DLManagedTensor
{
    public DLTensor DLTensor;
    public nint ManagerCtx;
    public delegate* unmanaged[Cdecl]<DLManagedTensor*, void> Deleter;
}

/// <summary>DLManagedTensorVersioned (DLPack 1.x): version, manager_ctx, deleter and flags first, then the tensor.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct DLManagedTensorVersioned
{
    public DLPackVersion Version;
    public nint ManagerCtx;
    public delegate* unmanaged[Cdecl]<DLManagedTensorVersioned*, void> Deleter;
    public ulong Flags;
    public DLTensor DLTensor;

    /// <summary>DLPACK_FLAG_BITMASK_READ_ONLY: the consumer must not write the data.</summary>
    public const ulong FlagReadOnly = 1UL << 0;
    /// <summary>DLPACK_FLAG_BITMASK_IS_COPIED: the producer made a copy just for this exchange.</summary>
    public const ulong FlagIsCopied = 1UL << 1;
}
