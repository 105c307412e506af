using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Sara.Bindings;

namespace Sara.Native.Runtime;

/// <summary>One NVRTC compilation: the cubin (empty for a compute_XX target), the PTX, the log and ptxas's per-function report.</summary>
public sealed record KernelCompileResult(string FileName, string Arch, byte[] Cubin, string Ptx, string Log,
    IReadOnlyList<KernelResourceUsage> Functions)
{
    /// <summary>Log lines that are warnings, from the front end ("warning #177-D") or from ptxas ("ptxas warning :").</summary>
    public IReadOnlyList<string> Warnings =>
        Log.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Contains("warning", StringComparison.OrdinalIgnoreCase)).ToArray();

    /// <summary>The image for cuModuleLoadData: the cubin, else the NUL-terminated PTX (JIT-compiled by the driver).</summary>
    public byte[] LoadableImage => Cubin.Length > 0 ? Cubin : Encoding.UTF8.GetBytes(Ptx + "\0");
}

/// <summary>
/// Compiles a kernel source with NVRTC. NVRTC has no include path here, so every header the source
/// may include is handed over by name (common.cuh). Options (all accepted by NVRTC 11.8):
/// -arch=sm_XX --std=c++17 -default-device --ptxas-options=-v. NVRTC 11.8 rejects sm_90a and --std=c++20.
/// </summary>
public static unsafe class KernelCompiler
{
    /// <summary>The options used for <paramref name="arch"/> ("sm_80", "sm_90", or "compute_90" for PTX only).</summary>
    public static string[] Options(string arch)
    {
        if (string.IsNullOrWhiteSpace(arch) || !(arch.StartsWith("sm_", StringComparison.Ordinal) || arch.StartsWith("compute_", StringComparison.Ordinal)))
            throw new ArgumentException($"arch must look like 'sm_90' or 'compute_90', got '{arch}'.", nameof(arch));
        var opts = new List<string> { $"-arch={arch}", "--std=c++17", "-default-device" };
        if (arch.StartsWith("sm_", StringComparison.Ordinal)) opts.Add("--ptxas-options=-v");
        return opts.ToArray();
    }

    /// <summary>NVRTC's version (major, minor); throws NativeLibraryMissingException when libnvrtc is absent.</summary>
    public static (int Major, int Minor) NvrtcVersion()
    {
        Nvrtc.Check(Nvrtc.nvrtcVersion(out var major, out var minor), "nvrtcVersion");
        return (major, minor);
    }

    /// <summary>The SM architectures this NVRTC accepts (nvrtcGetSupportedArchs, ascending, e.g. 35 .. 90 for 11.8), or null for an NVRTC older than 11.2 that cannot say.</summary>
    public static IReadOnlyList<int>? SupportedArchs()
    {
        try
        {
            Nvrtc.Check(Nvrtc.nvrtcGetNumSupportedArchs(out var count), "nvrtcGetNumSupportedArchs");
            var archs = new int[Math.Max(count, 0)];
            if (archs.Length > 0)
                fixed (int* p = archs) Nvrtc.Check(Nvrtc.nvrtcGetSupportedArchs(p), "nvrtcGetSupportedArchs");
            return archs;
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// The PTX targets to try, best first, for a device of architecture <paramref name="deviceArch"/> (90 for sm_90) that
    /// NVRTC cannot compile SASS for: the supported architectures at or below the device, newest first; without that list
    /// (NVRTC before 11.2), every architecture NVRTC 11.x may know, stepping down from the device's.
    /// </summary>
    public static IReadOnlyList<string> PtxFallbackArchs(int deviceArch, IReadOnlyList<int>? supported)
    {
        int[] known = [90, 89, 87, 86, 80, 75, 72, 70, 62, 61, 60, 53, 52];
        var archs = supported is { Count: > 0 } ? supported : known;
        return archs.Where(a => a <= deviceArch).Distinct().OrderDescending().Select(a => $"compute_{a}").ToArray();
    }

    /// <summary>True for NVRTC's answer to an -arch it does not know (NVRTC_ERROR_INVALID_OPTION from nvrtcCompileProgram).</summary>
    public static bool IsUnknownArch(NativeCallException e) =>
        e.Code == (int)NvrtcResult.NVRTC_ERROR_INVALID_OPTION && e.Call == "nvrtcCompileProgram";

    /// <summary>The UTF-8 text of a NUL-terminated buffer (the whole buffer when it has no NUL), trailing whitespace trimmed.</summary>
    public static string CString(ReadOnlySpan<byte> buffer)
    {
        var end = buffer.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? buffer : buffer[..end]).TrimEnd();
    }

    /// <summary>Compiles with the embedded headers.</summary>
    public static KernelCompileResult CompileEmbedded(string fileName, string arch) =>
        Compile(fileName, KernelSources.ReadText(fileName), KernelSources.Headers(), arch);

    /// <summary>
    /// Compiles <paramref name="source"/> (named <paramref name="fileName"/> in messages) for <paramref name="arch"/>.
    /// Throws <see cref="NativeCallException"/> naming nvrtcCompileProgram with the full log when compilation fails.
    /// </summary>
    public static KernelCompileResult Compile(string fileName, string source, IReadOnlyDictionary<string, string> headers,
        string arch, IEnumerable<string>? extraOptions = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(headers);
        var options = Options(arch).Concat(extraOptions ?? []).ToArray();

        using var strings = new Utf8Strings();
        var names = headers.Keys.ToArray();
        var hdrPtrs = stackalloc byte*[Math.Max(1, names.Length)];
        var namePtrs = stackalloc byte*[Math.Max(1, names.Length)];
        for (var i = 0; i < names.Length; i++)
        {
            hdrPtrs[i] = strings.Add(headers[names[i]]);
            namePtrs[i] = strings.Add(names[i]);
        }
        var optPtrs = stackalloc byte*[Math.Max(1, options.Length)];
        for (var i = 0; i < options.Length; i++) optPtrs[i] = strings.Add(options[i]);

        Nvrtc.Check(Nvrtc.nvrtcCreateProgram(out var prog, strings.Add(source), strings.Add(fileName),
            names.Length, names.Length == 0 ? null : hdrPtrs, names.Length == 0 ? null : namePtrs), "nvrtcCreateProgram", fileName);
        try
        {
            var status = Nvrtc.nvrtcCompileProgram(prog, options.Length, optPtrs);
            var log = ReadLog(prog);
            Nvrtc.Check(status, "nvrtcCompileProgram", $"{fileName} for {arch} with {string.Join(' ', options)}:\n{log}");
            var ptx = ReadPtx(prog);
            var cubin = arch.StartsWith("sm_", StringComparison.Ordinal) ? ReadCubin(prog) : [];
            return new KernelCompileResult(fileName, arch, cubin, ptx, log, PtxasReport.Parse(log, arch));
        }
        finally
        {
            Nvrtc.nvrtcDestroyProgram(ref prog);
        }
    }

    /// <summary>
    /// The loadable image for an embedded source, from the disk cache when an identical compile was done before.
    /// Cache: $XDG_CACHE_HOME/sara-native (else ~/.cache/sara-native), key = SHA-256 of source, headers, options, arch, NVRTC version.
    /// </summary>
    public static byte[] CompileEmbeddedCached(string fileName, string arch) =>
        CompileCached(fileName, KernelSources.ReadText(fileName), KernelSources.Headers(), arch);

    public static byte[] CompileCached(string fileName, string source, IReadOnlyDictionary<string, string> headers, string arch)
    {
        var dir = CacheDirectory();
        var path = Path.Combine(dir, $"{Path.GetFileNameWithoutExtension(fileName)}-{arch}-{CacheKey(source, headers, arch)}.bin");
        try
        {
            if (File.Exists(path)) return File.ReadAllBytes(path);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }

        var image = Compile(fileName, source, headers, arch).LoadableImage;
        try
        {
            Directory.CreateDirectory(dir);
            var tmp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
            File.WriteAllBytes(tmp, image);
            File.Move(tmp, path, overwrite: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return image;
    }

    public static string CacheDirectory()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var root = !string.IsNullOrEmpty(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "sara-native");
    }

    /// <summary>Hex SHA-256 over everything that changes the binary.</summary>
    public static string CacheKey(string source, IReadOnlyDictionary<string, string> headers, string arch)
    {
        var (major, minor) = NvrtcVersion();
        var sb = new StringBuilder();
        sb.Append("nvrtc ").Append(major).Append('.').Append(minor).Append('\n');
        sb.Append("arch ").Append(arch).Append('\n');
        sb.Append("options ").Append(string.Join(' ', Options(arch))).Append('\n');
        foreach (var name in headers.Keys.Order(StringComparer.Ordinal))
            sb.Append("header ").Append(name).Append(' ').Append(headers[name].Length).Append('\n').Append(headers[name]).Append('\n');
        sb.Append("source ").Append(source.Length).Append('\n').Append(source);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    private static string ReadLog(nint prog)
    {
        Nvrtc.Check(Nvrtc.nvrtcGetProgramLogSize(prog, out var size), "nvrtcGetProgramLogSize");
        var buf = new byte[Math.Max(1, (int)size)];
        fixed (byte* p = buf) Nvrtc.Check(Nvrtc.nvrtcGetProgramLog(prog, p), "nvrtcGetProgramLog");
        return Encoding.UTF8.GetString(buf).TrimEnd('\0');
    }

    private static string ReadPtx(nint prog)
    {
        Nvrtc.Check(Nvrtc.nvrtcGetPTXSize(prog, out var size), "nvrtcGetPTXSize");
        var buf = new byte[Math.Max(1, (int)size)];
        fixed (byte* p = buf) Nvrtc.Check(Nvrtc.nvrtcGetPTX(prog, p), "nvrtcGetPTX");
        return Encoding.UTF8.GetString(buf).TrimEnd('\0');
    }

    private static byte[] ReadCubin(nint prog)
    {
        Nvrtc.Check(Nvrtc.nvrtcGetCUBINSize(prog, out var size), "nvrtcGetCUBINSize");
        var buf = new byte[(int)size];
        fixed (byte* p = buf) Nvrtc.Check(Nvrtc.nvrtcGetCUBIN(prog, p), "nvrtcGetCUBIN");
        return buf;
    }

    /// <summary>NUL-terminated UTF-8 copies in unmanaged memory, freed together.</summary>
    private sealed class Utf8Strings : IDisposable
    {
        private readonly List<nint> _blocks = [];

        public byte* Add(string s)
        {
            var p = Marshal.StringToCoTaskMemUTF8(s);
            _blocks.Add(p);
            return (byte*)p;
        }

        public void Dispose()
        {
            foreach (var p in _blocks) Marshal.FreeCoTaskMem(p);
            _blocks.Clear();
        }
    }
}
