using System.Runtime.InteropServices;

namespace Sara.Bindings;

/// <summary>
/// CUDA driver API (libcuda.so.1). Handles (CUcontext, CUmodule, CUfunction, CUstream, CUevent) and
/// device pointers (CUdeviceptr, 64-bit) are nint; CUdevice is an int ordinal handle.
/// </summary>
public static unsafe partial class Cuda
{
    /// <summary>CU_STREAM_LEGACY (cuda.h): the legacy default stream, which synchronises with every blocking stream of its context.</summary>
    public const nint CU_STREAM_LEGACY = 0x1;

    /// <summary>CU_STREAM_PER_THREAD (cuda.h): the calling thread's default stream (per-thread default stream semantics).</summary>
    public const nint CU_STREAM_PER_THREAD = 0x2;

    /// <summary>Throws <see cref="NativeCallException"/> naming the call and the status from cuGetErrorName.</summary>
    public static void Check(CUresult status, string call, string? detail = null)
    {
        if (status != CUresult.CUDA_SUCCESS) throw new NativeCallException(call, ErrorName(status), (int)status, detail);
    }

    /// <summary>
    /// True for the errors cuda.h documents as leaving the context unusable ("any further CUDA work will return the same
    /// error"): illegal address, launch timeout, device-side assert, hardware stack error, illegal instruction, misaligned
    /// address, invalid address space, invalid PC, launch failure, external device.
    /// </summary>
    public static bool IsSticky(CUresult status) => status is CUresult.CUDA_ERROR_ILLEGAL_ADDRESS or CUresult.CUDA_ERROR_LAUNCH_TIMEOUT
        or CUresult.CUDA_ERROR_ASSERT or CUresult.CUDA_ERROR_HARDWARE_STACK_ERROR or CUresult.CUDA_ERROR_ILLEGAL_INSTRUCTION
        or CUresult.CUDA_ERROR_MISALIGNED_ADDRESS or CUresult.CUDA_ERROR_INVALID_ADDRESS_SPACE or CUresult.CUDA_ERROR_INVALID_PC
        or CUresult.CUDA_ERROR_LAUNCH_FAILED or CUresult.CUDA_ERROR_EXTERNAL_DEVICE;

    /// <summary>The driver's name for a status ("CUDA_ERROR_INVALID_VALUE"), falling back to the enum's name.</summary>
    public static string ErrorName(CUresult status)
    {
        byte* p = null;
        try
        {
            if (cuGetErrorName(status, &p) == CUresult.CUDA_SUCCESS && p != null)
                return Marshal.PtrToStringUTF8((nint)p) ?? status.ToString();
        }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
        return Enum.IsDefined(status) ? status.ToString() : $"CUresult({(int)status})";
    }

    [LibraryImport(Lib.Cuda)] public static partial CUresult cuGetErrorName(CUresult error, byte** pStr);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuInit(uint flags);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuDriverGetVersion(out int driverVersion);

    // Devices.
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuDeviceGetCount(out int count);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuDeviceGet(out int device, int ordinal);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuDeviceGetName(byte* name, int len, int device);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuDeviceGetAttribute(out int value, CUdevice_attribute attrib, int device);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuDeviceTotalMem_v2(out nuint bytes, int device);

    // Contexts.
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuDevicePrimaryCtxRetain(out nint context, int device);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuDevicePrimaryCtxRelease_v2(int device);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuCtxSetCurrent(nint context);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuCtxSynchronize();
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuCtxGetCurrent(out nint context);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuCtxGetDevice(out int device);

    // Memory.
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemAlloc_v2(out nint dptr, nuint bytes);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemFree_v2(nint dptr);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemcpyHtoD_v2(nint dst, void* src, nuint bytes);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemcpyDtoH_v2(void* dst, nint src, nuint bytes);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemcpyDtoD_v2(nint dst, nint src, nuint bytes);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemsetD32_v2(nint dst, uint value, nuint count);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemGetInfo_v2(out nuint free, out nuint total);

    // Stream-ordered copies and memsets (the names cuda.h maps cuMemcpyHtoDAsync etc. to without per-thread default streams).
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemcpyHtoDAsync_v2(nint dst, void* src, nuint bytes, nint stream);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemcpyDtoHAsync_v2(void* dst, nint src, nuint bytes, nint stream);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemcpyDtoDAsync_v2(nint dst, nint src, nuint bytes, nint stream);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemsetD32Async(nint dst, uint value, nuint count, nint stream);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemsetD16Async(nint dst, ushort value, nuint count, nint stream);

    // Modules and launches.
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuModuleLoadData(out nint module, void* image);

    /// <summary>optionValues[i] is the value of options[i], passed by value in the pointer slot (sizes, flags) or as a pointer (log buffers).</summary>
    [LibraryImport(Lib.Cuda)]
    public static partial CUresult cuModuleLoadDataEx(out nint module, void* image, uint numOptions, CUjit_option* options, void** optionValues);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuModuleUnload(nint module);
    [LibraryImport(Lib.Cuda, StringMarshalling = StringMarshalling.Utf8)]
    public static partial CUresult cuModuleGetFunction(out nint function, nint module, string name);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuFuncGetAttribute(out int value, CUfunction_attribute attrib, nint function);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuFuncSetAttribute(nint function, CUfunction_attribute attrib, int value);

    [LibraryImport(Lib.Cuda)]
    public static partial CUresult cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ,
        uint blockX, uint blockY, uint blockZ, uint sharedMemBytes, nint stream, nint* kernelParams, nint* extra);

    // Streams and events.
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuStreamCreate(out nint stream, uint flags);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuStreamDestroy_v2(nint stream);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuStreamSynchronize(nint stream);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuStreamGetCtx(nint stream, out nint context);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuEventCreate(out nint evt, uint flags);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuEventRecord(nint evt, nint stream);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuEventSynchronize(nint evt);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuEventElapsedTime(out float milliseconds, nint start, nint end);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuEventDestroy_v2(nint evt);
}
