using System.Text;
using Sara.Native.Runtime;

namespace Sara.Tests.CompileGate;

/// <summary>
/// The compile gate's rules and the repository's kernel files. A kernel passes when NVRTC compiles it with no
/// warning, ptxas reports every declared entry point, and no function spills.
/// </summary>
public static class KernelGate
{
    public static readonly string[] Arches = ["sm_80", "sm_90"];

    /// <summary>The repository's kernels/ folder, found by walking up from the test binaries.</summary>
    public static string KernelsDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            var k = Path.Combine(dir.FullName, "kernels");
            if (File.Exists(Path.Combine(k, "common.cuh")) && File.Exists(Path.Combine(dir.FullName, "Sara.Native.sln"))) return k;
        }
        // The artifacts folder may live outside the tree (SARA_ARTIFACTS); fall back to this source file's location.
        var here = Path.GetFullPath(Path.Combine(ThisFileDirectory(), "..", "..", "..", "kernels"));
        if (File.Exists(Path.Combine(here, "common.cuh"))) return here;
        throw new DirectoryNotFoundException($"kernels/ not found above {AppContext.BaseDirectory} or at {here}");
    }

    private static string ThisFileDirectory([System.Runtime.CompilerServices.CallerFilePath] string path = "") =>
        Path.GetDirectoryName(path) ?? ".";

    public static string[] SourceFiles() =>
        Directory.GetFiles(KernelsDirectory(), "*.cu").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string File, string Arch), Lazy<KernelCompileResult>> Compiled = new();

    /// <summary>
    /// NVRTC's compile of kernels/<paramref name="file"/> for <paramref name="arch"/>, once per test run (the compile gate,
    /// the launch-surface and the census tests share it). The source is read from disk, as the gate checks it.
    /// </summary>
    public static KernelCompileResult Compile(string file, string arch) =>
        Compiled.GetOrAdd((file, arch), key => new Lazy<KernelCompileResult>(() =>
            KernelCompiler.Compile(key.File, File.ReadAllText(Path.Combine(KernelsDirectory(), key.File)), Headers(), key.Arch))).Value;

    public static IReadOnlyDictionary<string, string> Headers() =>
        Directory.GetFiles(KernelsDirectory(), "*.cuh").ToDictionary(p => Path.GetFileName(p), File.ReadAllText, StringComparer.Ordinal);

    /// <summary>Everything the gate objects to in one compilation; empty when it passes.</summary>
    public static List<string> Problems(KernelCompileResult r, IEnumerable<string> declaredEntryPoints)
    {
        var problems = r.Warnings.Select(w => $"warning: {w.Trim()}").ToList();
        var reported = r.Functions.Where(f => f.IsEntry).Select(f => f.Function).ToHashSet(StringComparer.Ordinal);
        problems.AddRange(declaredEntryPoints.Where(e => !reported.Contains(e)).Select(e => $"entry point {e} missing from the ptxas report"));
        problems.AddRange(r.Functions.Where(f => f.SpillBytes > 0)
            .Select(f => $"spill: {f.Function} stores {f.SpillStoreBytes} B, loads {f.SpillLoadBytes} B"));
        if (r.Cubin.Length == 0) problems.Add("no cubin produced");
        return problems;
    }

    public static string Table(IEnumerable<KernelCompileResult> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"{"file",-18} {"arch",-6} {"kernel",-34} {"regs",5} {"smem B",7} {"stack B",8} {"spill B",8}");
        foreach (var r in results)
            foreach (var f in r.Functions)
                sb.AppendLine($"{r.FileName,-18} {r.Arch,-6} {(f.IsEntry ? f.Function : f.Function + " (device fn)"),-34} " +
                              $"{f.Registers,5} {f.SharedBytes,7} {f.StackFrameBytes,8} {f.SpillBytes,8}");
        return sb.ToString();
    }
}
