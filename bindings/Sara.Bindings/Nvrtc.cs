using System.Runtime.InteropServices;

namespace Sara.Bindings;

/// <summary>nvrtcResult (nvrtc.h).</summary>
public enum NvrtcResult
{
    NVRTC_SUCCESS = 0,
    NVRTC_ERROR_OUT_OF_MEMORY = 1,
    NVRTC_ERROR_PROGRAM_CREATION_FAILURE = 2,
    NVRTC_ERROR_INVALID_INPUT = 3,
    NVRTC_ERROR_INVALID_PROGRAM = 4,
    NVRTC_ERROR_INVALID_OPTION = 5,
    NVRTC_ERROR_COMPILATION = 6,
    NVRTC_ERROR_BUILTIN_OPERATION_FAILURE = 7,
    NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION = 8,
    NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION = 9,
    NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID = 10,
    NVRTC_ERROR_INTERNAL_ERROR = 11,
}

/// <summary>NVRTC runtime compiler (libnvrtc). Strings are UTF-8 byte pointers; the program handle is nint.</summary>
public static unsafe partial class Nvrtc
{
    /// <summary>Throws naming the call, with the status from nvrtcGetErrorString and an optional detail (e.g. the log).</summary>
    public static void Check(NvrtcResult status, string call, string? detail = null)
    {
        if (status != NvrtcResult.NVRTC_SUCCESS) throw new NativeCallException(call, ErrorName(status), (int)status, detail);
    }

    public static string ErrorName(NvrtcResult status)
    {
        var p = nvrtcGetErrorString(status);
        return p == null ? status.ToString() : Marshal.PtrToStringUTF8((nint)p) ?? status.ToString();
    }

    [LibraryImport(Lib.Nvrtc)] public static partial byte* nvrtcGetErrorString(NvrtcResult result);
    [LibraryImport(Lib.Nvrtc)] public static partial NvrtcResult nvrtcVersion(out int major, out int minor);

    // Since NVRTC 11.2: the SM architectures -arch accepts, as integers (80 for sm_80), ascending.
    [LibraryImport(Lib.Nvrtc)] public static partial NvrtcResult nvrtcGetNumSupportedArchs(out int numArchs);
    [LibraryImport(Lib.Nvrtc)] public static partial NvrtcResult nvrtcGetSupportedArchs(int* supportedArchs);

    [LibraryImport(Lib.Nvrtc)]
    public static partial NvrtcResult nvrtcCreateProgram(out nint program, byte* source, byte* name,
        int numHeaders, byte** headers, byte** includeNames);

    [LibraryImport(Lib.Nvrtc)] public static partial NvrtcResult nvrtcCompileProgram(nint program, int numOptions, byte** options);
    [LibraryImport(Lib.Nvrtc)] public static partial NvrtcResult nvrtcGetProgramLogSize(nint program, out nuint size);
    [LibraryImport(Lib.Nvrtc)] public static partial NvrtcResult nvrtcGetProgramLog(nint program, byte* log);
    [LibraryImport(Lib.Nvrtc)] public static partial NvrtcResult nvrtcGetPTXSize(nint program, out nuint size);
    [LibraryImport(Lib.Nvrtc)] public static partial NvrtcResult nvrtcGetPTX(nint program, byte* ptx);
    [LibraryImport(Lib.Nvrtc)] public static partial NvrtcResult nvrtcGetCUBINSize(nint program, out nuint size);
    [LibraryImport(Lib.Nvrtc)] public static partial NvrtcResult nvrtcGetCUBIN(nint program, byte* cubin);
    [LibraryImport(Lib.Nvrtc)] public static partial NvrtcResult nvrtcDestroyProgram(ref nint program);
}
