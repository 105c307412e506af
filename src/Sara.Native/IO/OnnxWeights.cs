// Reads the initializers of an ONNX model (via OnnxSharp) and records which node consumes each one.
using Google.Protobuf;
using Onnx;

namespace Sara.Native.IO;

/// <summary>How a graph node uses an initializer: op type, input slot, and Gemm's transB flag.</summary>
public sealed record OnnxUse(string OpType, int InputIndex, bool TransB);

/// <summary>The stored weights of an ONNX model and the nodes that consume them (top-level graph).</summary>
public sealed class OnnxWeights
{
    private readonly Dictionary<string, List<OnnxUse>> _uses;

    public string Path { get; }
    public IReadOnlyList<OnnxInitializer> Initializers { get; }

    private OnnxWeights(string path, List<OnnxInitializer> initializers, Dictionary<string, List<OnnxUse>> uses)
    {
        Path = path;
        Initializers = initializers;
        _uses = uses;
    }

    /// <summary>Parses the model at <paramref name="path"/>; <see cref="InvalidDataException"/> if it is not ONNX.</summary>
    public static OnnxWeights Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        ModelProto model;
        using (var stream = RegularFile.OpenRead(full, "ONNX model"))
        {
            try
            {
                model = ModelProto.Parser.ParseFrom(stream);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new InvalidDataException($"{SafeText.Line(full)}: not a readable ONNX model ({SafeText.Line(e.Message)})", e);
            }
        }
        var graph = model.Graph ?? throw new InvalidDataException($"{SafeText.Line(full)}: ONNX model has no graph");
        // External data is looked up in, and confined to, the folder the model file really lives in (links followed).
        string folder = RegularFile.RealFolder(full);
        var initializers = graph.Initializer.Select(t => new OnnxInitializer(t, full, folder)).ToList();
        var names = initializers.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var uses = new Dictionary<string, List<OnnxUse>>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            bool transB = node.OpType == "Gemm" && node.Attribute.Any(a => a.Name == "transB" && a.I != 0);
            for (int i = 0; i < node.Input.Count; i++)
            {
                if (!names.Contains(node.Input[i])) continue;
                if (!uses.TryGetValue(node.Input[i], out var list)) uses[node.Input[i]] = list = new List<OnnxUse>();
                list.Add(new OnnxUse(node.OpType, i, transB));
            }
        }
        return new OnnxWeights(full, initializers, uses);
    }

    /// <summary>The external data files the initializers name that exist inside the model's folder (canonical paths).</summary>
    public IReadOnlyList<string> ExternalFiles() =>
        Initializers.Select(i => i.ExternalFile()).OfType<string>().Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The nodes that take initializer <paramref name="name"/> as an input (empty when none).</summary>
    public IReadOnlyList<OnnxUse> UsesOf(string name) =>
        _uses.TryGetValue(name, out var list) ? list : Array.Empty<OnnxUse>();
}
