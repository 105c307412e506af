// Before anything is written: an output must not be (or stand for) one of the inputs, a symbolic link, or a non-file.
namespace Sara.Native.IO;

/// <summary>
/// The checks every command runs on each output path before it reads or writes anything. An output is refused when
/// it is the same file as an input (compared by device and inode, so a symbolic link or a hard link to an input is
/// caught whatever its spelling), when it is itself a symbolic link (its target is not replaced silently: name the
/// target, or remove the link), when it exists and is not a regular file (a folder, a FIFO, a device), or when two
/// outputs of one command name the same file. Outputs are then written by <see cref="AtomicFile"/>.
/// </summary>
public static class OutputFile
{
    /// <summary>
    /// Throws <see cref="IOException"/> naming <paramref name="role"/> when <paramref name="output"/> may not be written
    /// given <paramref name="inputs"/> (each with its role, e.g. "base checkpoint").
    /// </summary>
    public static void Check(string output, string role, IEnumerable<(string Path, string Role)> inputs)
    {
        ArgumentException.ThrowIfNullOrEmpty(output);
        ArgumentNullException.ThrowIfNull(inputs);
        string shown = SafeText.Line(output);
        var self = RegularFile.Identify(output, followLinks: false);
        if (self.Kind == FileKind.SymbolicLink)
        {
            string target = new FileInfo(output).LinkTarget ?? "?";
            throw new IOException($"{role} '{shown}' is a symbolic link (to '{SafeText.Line(target)}'); "
                + "it is not followed: name the file itself, or remove the link");
        }
        if (self.Exists && self.Kind != FileKind.Regular)
            throw new IOException($"{role} '{shown}' is {RegularFile.Describe(self.Kind)}, not a regular file: it cannot be replaced");
        if (!self.Exists) return; // a new file cannot be any existing input
        foreach (var (path, inputRole) in inputs)
        {
            if (string.IsNullOrEmpty(path)) continue;
            if (self.SameFileAs(RegularFile.Identify(path)))
                throw new IOException($"{role} '{shown}' is the {inputRole} '{SafeText.Line(path)}' (the same file): "
                    + "writing it would destroy an input; choose another output path");
        }
    }

    /// <summary>Throws when two outputs of one command would be the same file (existing or not).</summary>
    public static void CheckDistinct(IEnumerable<(string? Path, string Role)> outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        var seen = new Dictionary<(FileIdentity Folder, string Name, FileIdentity File), string>();
        foreach (var (path, role) in outputs)
        {
            if (string.IsNullOrEmpty(path)) continue;
            string full = Path.GetFullPath(path);
            var file = RegularFile.Identify(full);
            // A new file is known by its folder's identity and its name; an existing one by its own.
            var folder = RegularFile.Identify(Path.GetDirectoryName(full)!);
            var key = file.Exists ? (default(FileIdentity), "", file)
                : folder.Exists ? (folder, Path.GetFileName(full), default(FileIdentity))
                : (default(FileIdentity), full, default(FileIdentity));
            if (seen.TryGetValue(key, out var other))
                throw new IOException($"{role} '{SafeText.Line(path)}' is the same file as {other}; give each output its own path");
            seen[key] = $"{role} '{SafeText.Line(path)}'";
        }
    }
}
