using System.Text.RegularExpressions;
using Sara.Native.Runtime;

namespace Sara.Tests.Kernels.LaunchSurface;

/// <summary>One parameter of an extern "C" kernel as the .cu source declares it.</summary>
public sealed record KernelParameter(string Name, string CppType, KernelArgKind Kind, string? StructName)
{
    /// <summary>The PTX parameter type NVRTC gives this kind: .u64 for pointers and 64-bit integers, .u32, .f32, .b8[] for a struct.</summary>
    public string PtxType => Kind switch
    {
        KernelArgKind.Pointer or KernelArgKind.Int64 => ".u64",
        KernelArgKind.Int32 => ".u32",
        KernelArgKind.Float32 => ".f32",
        _ => ".b8",
    };
}

/// <summary>An extern "C" __global__ entry point: its file, name and parameters in order.</summary>
public sealed record KernelSignature(string File, string Name, IReadOnlyList<KernelParameter> Parameters)
{
    public string Declaration => $"{Name}({string.Join(", ", Parameters.Select(p => $"{p.CppType} {p.Name}"))})";
}

/// <summary>
/// Reads kernel signatures from .cu sources (a textual parse of the declaration) and from NVRTC's PTX (.entry lists),
/// so the two can be compared: the source gives names and C++ types, the PTX what the compiled kernel really takes.
/// </summary>
public static partial class KernelSignatures
{
    /// <summary>Every extern "C" __global__ kernel declared in <paramref name="source"/>, in source order.</summary>
    public static IReadOnlyList<KernelSignature> FromSource(string file, string source)
    {
        var text = LineComment().Replace(source, "");
        var result = new List<KernelSignature>();
        foreach (Match m in Declaration().Matches(text))
        {
            var open = m.Index + m.Length - 1;
            var close = text.IndexOf(')', open);
            var list = text[(open + 1)..close];
            var parameters = list.Trim().Length == 0 ? [] : list.Split(',').Select(p => Parameter(file, m.Groups["name"].Value, p)).ToList();
            result.Add(new KernelSignature(file, m.Groups["name"].Value, parameters));
        }
        return result;
    }

    private static KernelParameter Parameter(string file, string kernel, string text)
    {
        var words = text.Replace("__restrict__", " ").Replace("*", " * ").Split((char[])[' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries);
        if (words.Length < 2) throw new FormatException($"{file}: {kernel}: cannot read parameter '{text.Trim()}'");
        var name = words[^1];
        var typeWords = words[..^1].Where(w => w != "const").ToArray();
        var cpp = string.Join(" ", words[..^1]).Replace(" *", "*");
        if (typeWords.Contains("*")) return new KernelParameter(name, cpp, KernelArgKind.Pointer, null);
        var type = string.Join(" ", typeWords);
        return type switch
        {
            "int" => new KernelParameter(name, cpp, KernelArgKind.Int32, null),
            "float" => new KernelParameter(name, cpp, KernelArgKind.Float32, null),
            "long" or "long long" => new KernelParameter(name, cpp, KernelArgKind.Int64, null),
            _ when StructType().IsMatch(type) => new KernelParameter(name, cpp, KernelArgKind.Struct, type),
            _ => throw new FormatException($"{file}: {kernel}: parameter '{text.Trim()}' has a type the launch surface does not map ({type})"),
        };
    }

    /// <summary>The .param lines of each .entry in a PTX module: kernel name -> PTX types (".u64", ".u32", ".f32", ".b8[2128]").</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> FromPtx(string ptx)
    {
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (Match m in PtxEntry().Matches(ptx))
        {
            var types = new List<string>();
            foreach (Match p in PtxParam().Matches(m.Groups["params"].Value))
                types.Add(p.Groups["size"].Success ? $"{p.Groups["type"].Value}[{p.Groups["size"].Value}]" : p.Groups["type"].Value);
            result[m.Groups["name"].Value] = types;
        }
        return result;
    }

    [GeneratedRegex(@"//[^\n]*")] private static partial Regex LineComment();
    [GeneratedRegex("""extern\s+"C"\s+__global__\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?(?<name>[A-Za-z_]\w*)\s*\(""")]
    private static partial Regex Declaration();
    [GeneratedRegex(@"^[A-Z]\w*$")] private static partial Regex StructType();
    [GeneratedRegex(@"\.entry\s+(?<name>\w+)\s*\((?<params>[^)]*)\)")] private static partial Regex PtxEntry();
    [GeneratedRegex(@"\.param\s+(?:\.align\s+\d+\s+)?(?<type>\.\w+)\s+\w+(?:\[(?<size>\d+)\])?")] private static partial Regex PtxParam();
}
