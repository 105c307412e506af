// Opening inputs safely: only regular files (a FIFO, device or folder is refused without blocking), identity by device
// and inode, canonical paths, and confinement of a referenced file (external data, shards) to the model's folder.
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Sara.Bindings;

namespace Sara.Native.IO;

/// <summary>What a path names (symbolic links followed unless asked not to).</summary>
public enum FileKind
{
    Missing,
    Regular,
    Directory,
    Fifo,
    CharacterDevice,
    BlockDevice,
    Socket,
    SymbolicLink,
    Other,
}

/// <summary>The kind of a path and, when it exists, the device and inode that identify the file behind it.</summary>
public readonly record struct FileIdentity(FileKind Kind, ulong Device, ulong Inode)
{
    public bool Exists => Kind != FileKind.Missing;

    /// <summary>True when both name the same existing file (a symbolic link or a hard link to it counts).</summary>
    public bool SameFileAs(FileIdentity other) => Exists && other.Exists && Device == other.Device && Inode == other.Inode;
}

/// <summary>
/// The one way checkpoints, adapters, indexes and external data are opened. <see cref="OpenRead"/> refuses anything but a
/// regular file before opening it, opens without blocking (a FIFO swapped in meanwhile cannot hang the read) and checks
/// the opened handle again. Errors are <see cref="IOException"/>s (<see cref="FileNotFoundException"/> when missing)
/// that name the role and the path.
/// </summary>
public static class RegularFile
{
    /// <summary>Kind, device and inode of <paramref name="path"/>; a dangling link or a missing path is <see cref="FileKind.Missing"/>.</summary>
    public static FileIdentity Identify(string path, bool followLinks = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!OperatingSystem.IsLinux()) return PortableIdentify(path, followLinks);
        return Statx(Libc.AtFdCwd, Path.GetFullPath(path), followLinks ? 0 : Libc.AtSymlinkNoFollow, path);
    }

    /// <summary>Throws unless <paramref name="path"/> is an existing regular file (after symbolic links).</summary>
    public static void Require(string path, string what)
    {
        var id = Identify(path);
        if (id.Kind == FileKind.Regular) return;
        throw NotRegular(path, what, id.Kind);
    }

    /// <summary>Opens a regular file for reading (shared); refuses FIFOs, devices, sockets and folders without blocking on them.</summary>
    public static FileStream OpenRead(string path, string what = "file")
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        if (!OperatingSystem.IsLinux())
        {
            Require(full, what);
            return new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        var before = Identify(full);
        if (before.Kind != FileKind.Regular) throw NotRegular(path, what, before.Kind);
        int fd = Libc.Open(full, Libc.ORdOnly | Libc.OCloExec | Libc.ONonBlock | Libc.ONoCtty);
        if (fd < 0) throw Errno(Marshal.GetLastPInvokeError(), path, what);
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            var opened = Statx(fd, "", Libc.AtEmptyPath, path);
            if (opened.Kind != FileKind.Regular) throw NotRegular(path, what, opened.Kind);
            if (!opened.SameFileAs(before)) throw new IOException($"{what} '{SafeText.Line(path)}' was replaced while it was being opened");
            return new FileStream(handle, FileAccess.Read, bufferSize: 0);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>All bytes of a regular file (refused like <see cref="OpenRead"/>).</summary>
    public static byte[] ReadAllBytes(string path, string what = "file")
    {
        using var stream = OpenRead(path, what);
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>The canonical absolute path of an existing <paramref name="path"/>: every symbolic link resolved.</summary>
    public static string RealPath(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        if (!OperatingSystem.IsLinux())
            return File.Exists(full) || Directory.Exists(full) ? full : throw new FileNotFoundException($"'{SafeText.Line(path)}' does not exist", full);
        nint p = Libc.RealPath(full, 0);
        if (p == 0) throw Errno(Marshal.GetLastPInvokeError(), path, "path");
        try
        {
            return Marshal.PtrToStringUTF8(p)!;
        }
        finally
        {
            Libc.Free(p);
        }
    }

    /// <summary>
    /// Resolves <paramref name="relative"/> against the folder <paramref name="folder"/> (itself canonical) and returns its
    /// canonical path when that lies inside <paramref name="folder"/> both as written and after every symbolic link is
    /// followed; null when it lies outside. Throws <see cref="FileNotFoundException"/> when it does not exist.
    /// </summary>
    public static string? ResolveInside(string folder, string relative)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(relative);
        string root = folder.EndsWith(Path.DirectorySeparatorChar) ? folder : folder + Path.DirectorySeparatorChar;
        string lexical = Path.GetFullPath(Path.Combine(folder, relative));
        if (!lexical.StartsWith(root, StringComparison.Ordinal)) return null; // "../x" or "/x": outside before any link
        string real = RealPath(lexical);
        return real.StartsWith(root, StringComparison.Ordinal) ? real : null;
    }

    /// <summary>The canonical folder a file really lives in (symbolic links to the file followed first).</summary>
    public static string RealFolder(string file) => Path.GetDirectoryName(RealPath(file))!;

    private static unsafe FileIdentity Statx(int dirFd, string path, int flags, string shownPath)
    {
        byte* buffer = stackalloc byte[256];
        if (Libc.Statx(dirFd, path, flags, Libc.StatxBasicStats, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Libc.ENoEnt or Libc.ENotDir) return new FileIdentity(FileKind.Missing, 0, 0);
            throw Errno(errno, shownPath, "path");
        }
        // struct statx: stx_mode (u16) at 28, stx_ino (u64) at 32, stx_dev_major / stx_dev_minor (u32) at 136 / 140.
        ushort mode = *(ushort*)(buffer + 28);
        ulong inode = *(ulong*)(buffer + 32);
        ulong device = ((ulong)*(uint*)(buffer + 136) << 32) | *(uint*)(buffer + 140);
        return new FileIdentity(KindOf(mode), device, inode);
    }

    private static FileKind KindOf(ushort mode) => (mode & 0xF000) switch
    {
        0x8000 => FileKind.Regular,
        0x4000 => FileKind.Directory,
        0x1000 => FileKind.Fifo,
        0x2000 => FileKind.CharacterDevice,
        0x6000 => FileKind.BlockDevice,
        0xC000 => FileKind.Socket,
        0xA000 => FileKind.SymbolicLink,
        _ => FileKind.Other,
    };

    private static FileIdentity PortableIdentify(string path, bool followLinks)
    {
        var info = new FileInfo(path);
        if (!followLinks && info.LinkTarget is not null) return new FileIdentity(FileKind.SymbolicLink, 0, 0);
        if (Directory.Exists(path)) return new FileIdentity(FileKind.Directory, 0, 0);
        // Without stat there is no inode: the canonical path stands in for it.
        return File.Exists(path)
            ? new FileIdentity(FileKind.Regular, 0, (ulong)StringComparer.Ordinal.GetHashCode(Path.GetFullPath(path)))
            : new FileIdentity(FileKind.Missing, 0, 0);
    }

    /// <summary>What a kind is called in messages ("a FIFO (named pipe)").</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a directory",
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Socket => "a socket",
        FileKind.SymbolicLink => "a symbolic link",
        FileKind.Missing => "missing",
        _ => "not a regular file",
    };

    private static IOException NotRegular(string path, string what, FileKind kind) => kind == FileKind.Missing
        ? new FileNotFoundException($"{what} '{SafeText.Line(path)}' does not exist", path)
        : new IOException($"{what} '{SafeText.Line(path)}' is {Describe(kind)}, not a regular file");

    private static Exception Errno(int errno, string path, string what) => errno switch
    {
        Libc.ENoEnt or Libc.ENotDir => new FileNotFoundException($"{what} '{SafeText.Line(path)}' does not exist", path),
        13 or 1 => new UnauthorizedAccessException($"{what} '{SafeText.Line(path)}': {Marshal.GetPInvokeErrorMessage(errno)}"),
        _ => new IOException($"{what} '{SafeText.Line(path)}': {Marshal.GetPInvokeErrorMessage(errno)}"),
    };
}
