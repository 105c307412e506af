// Helpers for the hostile-input tests: FIFOs, a guard that turns a hang on one into a failure, folder listings.
using System.Runtime.InteropServices;

namespace Sara.Tests.Support;

public static partial class HostileFiles
{
    [LibraryImport("libc", EntryPoint = "mkfifo", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int MkFifo(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Link(string existing, string created);

    /// <summary>Makes <paramref name="created"/> a second name (hard link) of <paramref name="existing"/>.</summary>
    public static void HardLink(string existing, string created)
    {
        if (Link(existing, created) != 0) throw new IOException($"link {existing} {created}: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Makes a named pipe at <paramref name="path"/>.</summary>
    public static string Fifo(string path)
    {
        if (MkFifo(path, 0x1A4 /* 0644 */) != 0) throw new IOException($"mkfifo {path}: errno {Marshal.GetLastPInvokeError()}");
        return path;
    }

    /// <summary>
    /// Runs <paramref name="body"/> and fails the test if it is still running after <paramref name="seconds"/>: a reader
    /// blocked on <paramref name="fifo"/> is then released (a writer opens and closes the pipe) so the run can end.
    /// </summary>
    public static T FinishesWithin<T>(int seconds, string fifo, Func<T> body)
    {
        var task = Task.Run(body);
        if (task.Wait(TimeSpan.FromSeconds(seconds))) return task.Result;
        int fd = Open(fifo, 1 /* O_WRONLY */ | 0x800 /* O_NONBLOCK: fails rather than waits when nobody reads */);
        if (fd >= 0) Close(fd);
        task.Wait(TimeSpan.FromSeconds(30));
        Assert.Fail($"still blocked after {seconds} s on the FIFO '{fifo}' (released by opening it for writing)");
        return default!;
    }

    /// <summary>
    /// Fails when <paramref name="text"/> holds the hostile sequences of the tests (clear screen, a title-setting OSC, a
    /// bell), compared ordinally (NUnit's culture-aware Contains treats control characters as ignorable and matches
    /// them anywhere). Spectre's own colour sequences (ESC [ 1 m) are allowed.
    /// </summary>
    public static void AssertNoTerminalControl(string text)
    {
        Assert.That(text.Contains("\u001b[2J", StringComparison.Ordinal), Is.False, "clear-screen sequence in: " + text);
        Assert.That(text.Contains("\u001b]", StringComparison.Ordinal), Is.False, "OSC sequence in: " + text);
        Assert.That(text.Contains('\u0007'), Is.False, "bell character in: " + text);
    }

    /// <summary>The names in <paramref name="folder"/> (files, links, pipes), sorted.</summary>
    public static string[] Listing(string folder) =>
        Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal).ToArray()!;
}
