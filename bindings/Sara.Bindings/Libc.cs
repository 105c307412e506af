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
