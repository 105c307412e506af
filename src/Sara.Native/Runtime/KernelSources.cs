using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;

namespace Sara.Native.Runtime;

/// <summary>
/// The kernel files embedded in this assembly under "kernels/&lt;file&gt;": CUDA sources (*.cu), headers (*.cuh)
/// and, when nvcc built them, fatbins (*.fatbin). File names are returned without the "kernels/" prefix.
/// </summary>
public static partial class KernelSources
{
    public const string Prefix = "kernels/";

    private static readonly Assembly Owner = typeof(KernelSources).Assembly;
    private static readonly string[] All = Owner.GetManifestResourceNames()
        .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal))
        .Select(n => n[Prefix.Length..])
        .Order(StringComparer.Ordinal)
        .ToArray();

    /// <summary>Every embedded kernel source (*.cu), sorted.</summary>
    public static IReadOnlyList<string> SourceFiles { get; } = WithExtension(".cu");

    /// <summary>Every embedded header (*.cuh), sorted.</summary>
    public static IReadOnlyList<string> HeaderFiles { get; } = WithExtension(".cuh");

    /// <summary>Every embedded fatbin (*.fatbin), sorted; empty when nvcc was not available at build time.</summary>
    public static IReadOnlyList<string> FatbinFiles { get; } = WithExtension(".fatbin");

    public static bool Contains(string file) => Array.IndexOf(All, file) >= 0;

    public static byte[] ReadBytes(string file)
    {
        using var s = Owner.GetManifestResourceStream(Prefix + file)
            ?? throw new ArgumentException($"No embedded kernel file '{file}'. Embedded: {string.Join(", ", All)}.", nameof(file));
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    public static string ReadText(string file) => Encoding.UTF8.GetString(ReadBytes(file));

    /// <summary>Every embedded header as (include name, text): what NVRTC needs, since it has no include path.</summary>
    public static IReadOnlyDictionary<string, string> Headers() =>
        HeaderFiles.ToDictionary(h => h, ReadText, StringComparer.Ordinal);

    /// <summary>Names of the extern "C" __global__ entry points a source declares (a textual scan, no compile).</summary>
    public static IReadOnlyList<string> EntryPoints(string source) =>
        EntryPointPattern().Matches(source).Select(m => m.Groups["name"].Value).Distinct().ToArray();

    [GeneratedRegex("""extern\s+"C"\s+__global__\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?(?<name>[A-Za-z_]\w*)\s*\(""")]
    private static partial Regex EntryPointPattern();

    private static string[] WithExtension(string ext) =>
        All.Where(n => n.EndsWith(ext, StringComparison.Ordinal) && !n.Contains('/')).ToArray();
}
