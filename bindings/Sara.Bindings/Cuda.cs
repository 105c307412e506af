using System.Runtime.InteropServices;

namespace Sara.Bindings;

/// <summary>
/// CUDA driver API (libcuda.so.1). Handles (CUcontext, CUmodule, CUfunction, CUstream, CUevent) and
/// device pointers (CUdeviceptr, 64-bit) are nint; CUdevice is an int ordinal handle.
/// </summary>
public static unsafe partial class Cuda
{
    /// <summary>Throws <see cref="NativeCallException"/> naming the call and the status from cuGetErrorName.</summary>
    public static void Check(CUresult status, string call, string? detail = null)
    {
        if (status != CUresult.CUDA_SUCCESS) throw new NativeCallException(call, ErrorName(status), (int)status, detail);
    }

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

    // Memory.
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemAlloc_v2(out nint dptr, nuint bytes);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemFree_v2(nint dptr);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemcpyHtoD_v2(nint dst, void* src, nuint bytes);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemcpyDtoH_v2(void* dst, nint src, nuint bytes);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemcpyDtoD_v2(nint dst, nint src, nuint bytes);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemsetD32_v2(nint dst, uint value, nuint count);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemsetD16_v2(nint dst, ushort value, nuint count);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuMemGetInfo_v2(out nuint free, out nuint total);

    // Modules and launches.
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuModuleLoadData(out nint module, void* image);
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
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuEventCreate(out nint evt, uint flags);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuEventRecord(nint evt, nint stream);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuEventSynchronize(nint evt);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuEventElapsedTime(out float milliseconds, nint start, nint end);
    [LibraryImport(Lib.Cuda)] public static partial CUresult cuEventDestroy_v2(nint evt);
}
