// Write-to-temp-then-rename, so a failed write never leaves a half-written file at the target path, and a crashed
// run's temporary file is removed by the next run that writes the same output.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Sara.Native.IO;

/// <summary>
/// Writes a file through a temporary file in the same folder and renames it over the target. The temporary file is
/// named <c>.&lt;name&gt;.&lt;pid&gt;.&lt;random&gt;.sara-tmp</c> beside the target; it is deleted on every handled failure,
/// and each write first removes the temporary files of the same target left by processes that are no longer running
/// and that are older than this process (a run killed with SIGKILL or a power cut), and those an earlier version left
/// (<c>.&lt;name&gt;.&lt;32 hex digits&gt;.tmp</c>, older than this process).
/// </summary>
public static class AtomicFile
{
    /// <summary>Suffix of every temporary file this class makes.</summary>
    public const string TempSuffix = ".sara-tmp";

    /// <summary>Suffix of the temporary files of earlier versions (<c>.&lt;name&gt;.&lt;guid&gt;.tmp</c>), also cleaned up.</summary>
    private const string LegacySuffix = ".tmp";

    private static readonly ConcurrentDictionary<string, byte> InFlight = new(StringComparer.Ordinal);
    private static readonly Lazy<DateTime> ProcessStartUtc = new(() => Process.GetCurrentProcess().StartTime.ToUniversalTime());

    /// <summary>
    /// Calls <paramref name="write"/> with a stream on a temporary file beside <paramref name="path"/>; on
    /// success flushes it to disk and moves it over <paramref name="path"/>. On any exception the temporary
    /// file is deleted and an existing file at <paramref name="path"/> is left untouched.
    /// </summary>
    public static void Write(string path, Action<FileStream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no folder", nameof(path));
        if (!Directory.Exists(dir))
            throw new DirectoryNotFoundException($"folder '{SafeText.Line(dir)}' of '{SafeText.Line(full)}' does not exist");
        RemoveStaleTemps(full);
        string temp = TempPath(full);
        InFlight.TryAdd(temp, 0);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        finally
        {
            InFlight.TryRemove(temp, out _);
        }
    }

    /// <summary>
    /// Writes several files as one output (a sharded checkpoint and its index): each through its own temporary file beside
    /// its target, named as <see cref="Write"/> names them (so a killed run's leftovers are removed the same way); only when
    /// every write has succeeded are the temporaries renamed over their targets, in the order given (put an index last).
    /// A failure before the renames leaves every target untouched and deletes the temporaries.
    /// </summary>
    public static void WriteAll(IReadOnlyList<(string Path, Action<FileStream> Write)> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var fulls = files.Select(f => Path.GetFullPath(f.Path)).ToList();
        if (fulls.Distinct(StringComparer.Ordinal).Count() != fulls.Count)
            throw new ArgumentException("two of the files have the same path", nameof(files));
        foreach (var full in fulls)
        {
            string dir = Path.GetDirectoryName(full)!;
            if (!Directory.Exists(dir))
                throw new DirectoryNotFoundException($"folder '{SafeText.Line(dir)}' of '{SafeText.Line(full)}' does not exist");
            RemoveStaleTemps(full);
        }
        var temps = new List<string>();
        try
        {
            for (var i = 0; i < files.Count; i++)
            {
                string temp = TempPath(fulls[i]);
                InFlight.TryAdd(temp, 0);
                temps.Add(temp);
                using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
                files[i].Write(stream);
                stream.Flush(flushToDisk: true);
            }
            for (var i = 0; i < files.Count; i++) File.Move(temps[i], fulls[i], overwrite: true);
        }
        catch
        {
            foreach (var temp in temps) TryDelete(temp);
            throw;
        }
        finally
        {
            foreach (var temp in temps) InFlight.TryRemove(temp, out _);
        }
    }

    /// <summary>Writes <paramref name="bytes"/> atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    /// <summary>Writes UTF-8 text (no byte-order mark) atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, s => s.Write(new System.Text.UTF8Encoding(false).GetBytes(text)));

    /// <summary>
    /// Deletes the temporary files of writes still in progress in this process (for a SIGINT / SIGTERM handler: the
    /// process is about to end, so their targets are left as they were).
    /// </summary>
    public static void DeleteInFlight()
    {
        foreach (var temp in InFlight.Keys) TryDelete(temp);
    }

    /// <summary>
    /// Removes temporary files of <paramref name="target"/> made by processes no longer running and last written before
    /// this process started; returns how many were removed. Files of live processes are left alone.
    /// </summary>
    public static int RemoveStaleTemps(string target)
    {
        string full = Path.GetFullPath(target);
        string dir = Path.GetDirectoryName(full)!;
        string prefix = "." + Stem(full) + ".";
        int removed = 0;
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(dir, "*" + TempSuffix).Concat(Directory.EnumerateFiles(dir, "*" + LegacySuffix)).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
        foreach (var temp in candidates)
        {
            string name = Path.GetFileName(temp);
            if (!name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            if (name.EndsWith(LegacySuffix, StringComparison.Ordinal))
            {
                // Earlier versions named it .<name>.<32 hex digits>.tmp, without the process id.
                var guid = name[prefix.Length..^LegacySuffix.Length];
                if (guid.Length != 32 || !guid.All(char.IsAsciiHexDigitLower)) continue;
            }
            else
            {
                var middle = name[prefix.Length..^TempSuffix.Length].Split('.');
                if (middle.Length != 2 || !int.TryParse(middle[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
                if (pid == Environment.ProcessId || IsRunning(pid)) continue;
            }
            try
            {
                if (File.GetLastWriteTimeUtc(temp) >= ProcessStartUtc.Value) continue;
                File.Delete(temp);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* another run may be cleaning too */ }
        }
        return removed;
    }

    /// <summary>The temporary path a write of <paramref name="fullTarget"/> uses in this process.</summary>
    internal static string TempPath(string fullTarget) => Path.Combine(Path.GetDirectoryName(fullTarget)!,
        $".{Stem(fullTarget)}.{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.{Guid.NewGuid().ToString("N")[..12]}{TempSuffix}");

    /// <summary>The target's file name, cut so the temporary name stays within the usual 255-byte limit of a file name.</summary>
    private static string Stem(string fullTarget)
    {
        string name = Path.GetFileName(fullTarget);
        int bytes = 0, end = 0;
        while (end < name.Length)
        {
            int width = char.IsSurrogatePair(name, end) ? 2 : 1;
            bytes += System.Text.Encoding.UTF8.GetByteCount(name.AsSpan(end, width));
            if (bytes > 200) break;
            end += width;
        }
        return name[..end];
    }

    private static bool IsRunning(int pid)
    {
        if (OperatingSystem.IsLinux()) return Directory.Exists($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}");
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void TryDelete(string temp)
    {
        try { File.Delete(temp); }
        catch (IOException) { /* best effort: the original error matters more */ }
        catch (UnauthorizedAccessException) { }
    }
}
