using System.Runtime.InteropServices;

namespace Sara.Bindings;

/// <summary>
/// libsara_emu.so (kernels/emu): runs the project's CUDA kernels on the CPU with CUDA semantics.
/// Launch mirrors cuLaunchKernel: <c>kernelParams[i]</c> points at argument i's value. Returns 0 on success;
/// otherwise <see cref="LastError"/> holds the message (per calling thread).
/// </summary>
public static partial class Emulator
{
    /// <summary>Handle of the kernel named <paramref name="name"/>, or 0 when no kernel has that name.</summary>
    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_get_function", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint GetFunction(string name);

    /// <summary>Runs the grid and blocks until it finished; 0 = ok.</summary>
    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_launch")]
    public static partial int Launch(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint dynamicSharedBytes, nint kernelParams);

    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_last_error")]
    private static partial nint LastErrorNative();

    /// <summary>Message for the last non-zero return of <see cref="Launch"/> on this thread.</summary>
    public static string LastError() => Marshal.PtrToStringUTF8(LastErrorNative()) ?? "";

    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_kernel_count")]
    public static partial int KernelCount();

    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_kernel_name")]
    private static partial nint KernelNameNative(int index);

    /// <summary>Name of kernel <paramref name="index"/> (0 .. KernelCount-1), or null when out of range.</summary>
    public static string? KernelName(int index) => Marshal.PtrToStringUTF8(KernelNameNative(index));

    /// <summary>Worker threads for later launches; n &lt;= 0 restores the default (hardware concurrency).</summary>
    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_set_threads")]
    public static partial void SetThreads(int n);

    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_get_threads")]
    public static partial int GetThreads();

    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_version")]
    private static partial nint VersionNative();

    public static string Version() => Marshal.PtrToStringUTF8(VersionNative()) ?? "";
}
