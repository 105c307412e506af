using System.Runtime.InteropServices;

namespace Sara.Bindings;

/// <summary>The C library calls the runtime needs (glibc, always present on Linux).</summary>
public static partial class Libc
{
    /// <summary>madvise advice: back this range with transparent huge pages when the kernel allows it.</summary>
    public const int MadvHugePage = 14;

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    public static partial int Madvise(nint address, nuint length, int advice);

    /// <summary>A variable of the process's native environment (a static C string, or 0 when unset).</summary>
    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint GetEnv(string name);

    /// <summary>Sets a variable in the process's native environment (what getenv in native libraries sees).</summary>
    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int SetEnv(string name, string value, int overwrite);

    // open(2) flags and *at() constants (the same values on Linux x86-64 and arm64).
    public const int ORdOnly = 0;
    public const int ONoCtty = 0x100;
    public const int ONonBlock = 0x800;
    public const int OCloExec = 0x80000;
    public const int AtFdCwd = -100;
    public const int AtSymlinkNoFollow = 0x100;
    public const int AtEmptyPath = 0x1000;
    public const uint StatxBasicStats = 0x7FF;
    public const int ENoEnt = 2;
    public const int ENotDir = 20;

    /// <summary>open(2) without O_CREAT (the variadic mode argument is not passed); a file descriptor or -1.</summary>
    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags);

    /// <summary>statx(2) into <paramref name="buffer"/> (256 bytes, struct statx; its layout is the same on every architecture).</summary>
    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static unsafe partial int Statx(int dirFd, string path, int flags, uint mask, byte* buffer);

    /// <summary>realpath(3) with a null buffer: a malloc'd canonical path (release it with <see cref="Free"/>), or 0.</summary>
    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial nint RealPath(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    public static partial void Free(nint pointer);

    [StructLayout(LayoutKind.Sequential)]
    private struct DlInfo
    {
        public nint FileName, FileBase, SymbolName, SymbolAddress;
    }

    // dladdr is in libc.so.6 since glibc 2.34 (Debian 12 has 2.36); older glibc keeps it in libdl only.
    [LibraryImport("libc", EntryPoint = "dladdr")]
    private static partial int DlAddr(nint address, out DlInfo info);

    /// <summary>The path of the loaded module that holds <paramref name="address"/> (dladdr), or null when unknown.</summary>
    public static string? ModulePath(nint address)
    {
        try { return DlAddr(address, out var info) != 0 && info.FileName != 0 ? Marshal.PtrToStringUTF8(info.FileName) : null; }
        catch (EntryPointNotFoundException) { return null; }
    }
}
