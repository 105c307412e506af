// Reads the initializers of an ONNX model (via OnnxSharp) and records which node consumes each one.
using Google.Protobuf;
using Onnx;

namespace Sara.Native.IO;

/// <summary>How a graph node uses an initializer: op type, input slot, and Gemm's transB flag.</summary>
public sealed record OnnxUse(string OpType, int InputIndex, bool TransB);

/// <summary>A graph node: its name (may be empty), op type, and the names of its inputs and outputs.</summary>
public sealed record OnnxNode(string Name, string OpType, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs);

/// <summary>The stored weights of an ONNX model and the nodes that consume them (top-level graph).</summary>
public sealed class OnnxWeights
{
    private readonly Dictionary<string, List<OnnxUse>> _uses;
    private readonly Dictionary<string, List<OnnxNode>> _readers;

    public string Path { get; }
    public IReadOnlyList<OnnxInitializer> Initializers { get; }

    private OnnxWeights(string path, List<OnnxInitializer> initializers, Dictionary<string, List<OnnxUse>> uses,
        Dictionary<string, List<OnnxNode>> readers)
    {
        Path = path;
        Initializers = initializers;
        _uses = uses;
        _readers = readers;
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
        var readers = new Dictionary<string, List<OnnxNode>>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            var record = new OnnxNode(node.Name, node.OpType, node.Input.ToArray(), node.Output.ToArray());
            foreach (var input in node.Input.Distinct())
            {
                if (!readers.TryGetValue(input, out var nodes)) readers[input] = nodes = new List<OnnxNode>();
                nodes.Add(record);
            }
            bool transB = node.OpType == "Gemm" && node.Attribute.Any(a => a.Name == "transB" && a.I != 0);
            for (int i = 0; i < node.Input.Count; i++)
            {
                if (!names.Contains(node.Input[i])) continue;
                if (!uses.TryGetValue(node.Input[i], out var list)) uses[node.Input[i]] = list = new List<OnnxUse>();
                list.Add(new OnnxUse(node.OpType, i, transB));
            }
        }
        return new OnnxWeights(full, initializers, uses, readers);
    }

    /// <summary>The external data files the initializers name that exist inside the model's folder (canonical paths).</summary>
    public IReadOnlyList<string> ExternalFiles() =>
        Initializers.Select(i => i.ExternalFile()).OfType<string>().Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The nodes that take initializer <paramref name="name"/> as an input (empty when none).</summary>
    public IReadOnlyList<OnnxUse> UsesOf(string name) =>
        _uses.TryGetValue(name, out var list) ? list : Array.Empty<OnnxUse>();

    /// <summary>The nodes, in graph order, that read the value (initializer or node output) <paramref name="name"/>.</summary>
    public IReadOnlyList<OnnxNode> ReadersOf(string name) =>
        _readers.TryGetValue(name, out var list) ? list : Array.Empty<OnnxNode>();

    /// <summary>
    /// A readable name for the weight <paramref name="initializer"/> (the module path that PyTorch would give it):
    /// its own name unless that is a bare number, as torch.onnx gives the transposed weights of MatMul-based Linear
    /// layers. Then: "X.weight" when the consuming node's output goes into an Add with the initializer "X.bias" (the
    /// Linear pattern); else the module path of a hierarchical node name ("/encoder/layer.0/attention/self/query/MatMul"
    /// gives "encoder.layer.0.attention.self.query.weight"); else "&lt;node name&gt;.weight"; else its own name.
    /// </summary>
    public string DisplayNameOf(string initializer)
    {
        ArgumentNullException.ThrowIfNull(initializer);
        if (initializer.Length == 0 || !initializer.All(char.IsAsciiDigit)) return initializer;
        var node = ReadersOf(initializer).FirstOrDefault();
        if (node is null) return initializer;
        foreach (var output in node.Outputs)
            foreach (var next in ReadersOf(output).Where(n => n.OpType == "Add"))
                foreach (var input in next.Inputs)
                    if (input.Length > 5 && input.EndsWith(".bias", StringComparison.Ordinal) && Initializers.Any(i => i.Name == input))
                        return input[..^5] + ".weight";
        var parts = node.Name.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length >= 2) return string.Join('.', parts[..^1]) + ".weight";
        return node.Name.Length > 0 ? node.Name + ".weight" : initializer;
    }
}
