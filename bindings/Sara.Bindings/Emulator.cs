using System.Runtime.InteropServices;

namespace Sara.Bindings;

/// <summary>
/// libsara_emu.so (kernels/emu): runs the project's CUDA kernels on the CPU with CUDA semantics, and checks them
/// (sanitizer mode: memcheck, racecheck, initcheck; synccheck always; schedules and their replay).
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

    /// <summary>
    /// Launches of kernel <paramref name="index"/> since load that finished without an error or a finding: in the fast
    /// variant (<paramref name="checkedVariant"/> false) or the checked one (sanitizer mode).
    /// </summary>
    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_kernel_clean_launches")]
    public static partial ulong KernelCleanLaunches(int index, [MarshalAs(UnmanagedType.I4)] bool checkedVariant);

    /// <summary>Worker threads for later launches; n &lt;= 0 restores the default (hardware concurrency).</summary>
    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_set_threads")]
    public static partial void SetThreads(int n);

    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_get_threads")]
    public static partial int GetThreads();

    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_version")]
    private static partial nint VersionNative();

    public static string Version() => Marshal.PtrToStringUTF8(VersionNative()) ?? "";

    /// <summary>1 when the kernels contract a*b+c into fma as nvcc/NVRTC do (the build machine has FMA).</summary>
    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_fma_contraction")]
    public static partial int FmaContraction();

    /// <summary>
    /// Thread order: "forward", "reverse", "shuffle:SEED", or two of them separated by a comma, which runs every launch
    /// under both from the same inputs and fails it ("racecheck: ... different results") when any buffer it was passed
    /// differs. 0 = ok; otherwise <see cref="LastError"/>. SARA_EMU_SCHEDULE sets the same at load.
    /// </summary>
    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_set_schedule", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SetSchedule(string spec);

    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_get_schedule")]
    private static partial nint GetScheduleNative();

    public static string Schedule() => Marshal.PtrToStringUTF8(GetScheduleNative()) ?? "";

    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_get_counters")]
    private static partial void GetCountersNative(out ulong launches, out ulong replayed, out ulong checkedLaunches);

    /// <summary>Launches since load: all, replayed under a second schedule, run as the checked (sanitizer) variant.</summary>
    public static (ulong Launches, ulong Replayed, ulong Checked) Counters()
    {
        GetCountersNative(out var l, out var r, out var c);
        return (l, r, c);
    }

    /// <summary>
    /// Sanitizer mode (SARA_EMU_SANITIZE=1 at load): later allocations get guard pages, redzones and NaN fill, and
    /// every launch runs the checked variant of its kernel on one thread.
    /// </summary>
    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_set_sanitize")]
    public static partial void SetSanitize([MarshalAs(UnmanagedType.I4)] bool on);

    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_get_sanitize")]
    [return: MarshalAs(UnmanagedType.I4)]
    public static partial bool Sanitizing();

    /// <summary>Device memory the checks know about (0 on failure, see <see cref="LastError"/>).</summary>
    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_malloc")]
    public static partial nint Malloc(ulong bytes);

    /// <summary>0 = ok; non-zero for a pointer that is not from <see cref="Malloc"/>.</summary>
    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_free")]
    public static partial int Free(nint ptr);

    /// <summary>
    /// Loads a module built by artifacts/native/sara_emu_module.cmake (the checked variant of one .cu); its kernels
    /// override the library's of the same name until <see cref="UnloadModule"/>. 0 on failure.
    /// </summary>
    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_load_module", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint LoadModule(string path);

    [LibraryImport(Lib.Emulator, EntryPoint = "sara_emu_unload_module")]
    public static partial int UnloadModule(nint module);
}
