using Sara.Native.Backends;
using Sara.Native.IO;
using Sara.Native.Layers;

namespace Sara.Cli.Merge;

/// <summary>
/// Folds a SARA adapter into its base checkpoint: for each adapted layer W' = W0 + s A diag(lambda) B, computed on the
/// chosen backend by <see cref="SaraLinear.Merge"/>; every other tensor is copied byte for byte. The output keeps the
/// base's tensor names, order, shapes and dtypes. An adapter layer "L" applies to the base tensor "L" or, failing that, "L.weight";
/// conv weights (out x in x kh x kw) are merged as out x (in*kh*kw). Mo-SARA adapters are refused. A sharded base
/// (<c>model.safetensors.index.json</c>) is merged shard by shard into the same layout (<see cref="ShardedMerger"/>).
/// </summary>
public static class AdapterMerger
{
    public sealed record Result(int MergedLayers, int CopiedTensors);

    public static Result Merge(Backend backend, string basePath, string adapterPath, string outputPath)
    {
        var adapter = LoadSara(adapterPath);
        if (ShardedMerger.IsIndex(basePath)) return ShardedMerger.Merge(backend, basePath, adapter, outputPath);
        if (ShardedMerger.IsIndex(outputPath))
            throw new ArgumentException($"the output '{outputPath}' is a shard index, but the base '{basePath}' is one file: the output keeps the base's layout", nameof(outputPath));
        using var file = SafetensorsFile.Open(basePath);
        if (Path.GetFullPath(outputPath) == Path.GetFullPath(basePath))
            throw new ArgumentException($"the output '{outputPath}' must differ from the base checkpoint", nameof(outputPath));
        var targets = Targets(file, adapter);
        WriteMerged(backend, file, targets, (float)adapter.Metadata.Scale, outputPath);
        return new Result(targets.Count, file.Tensors.Count - targets.Count);
    }

    /// <summary>Loads an adapter for merging: Mo-SARA is refused with the reason.</summary>
    internal static AdapterFile LoadSara(string adapterPath)
    {
        var adapter = AdapterFile.Load(adapterPath);
        if (adapter.Metadata.Method == AdapterMethod.MoSara)
            throw new NotSupportedException(
                $"'{adapterPath}' is a Mo-SARA adapter: it cannot be merged into the base weights, because its singular-value scaling depends on each token through the router gates; only SARA adapters merge");
        return adapter;
    }

    /// <summary>
    /// The base tensor each adapter layer merges into ("L", or failing that "L.weight"), checked: a float dtype, the layer's
    /// shape; a layer with no base tensor is named as extra (one <see cref="AdapterMismatchException"/> lists every problem).
    /// </summary>
    internal static Dictionary<string, AdapterLayer> Targets(ISafetensorsSource source, AdapterFile adapter)
    {
        var targets = new Dictionary<string, AdapterLayer>(StringComparer.Ordinal);
        var shapes = new Dictionary<string, (int Rows, int Cols)>(StringComparer.Ordinal);
        foreach (var layer in adapter.Layers)
        {
            var name = source.Contains(layer.Name) ? layer.Name : source.Contains(layer.Name + ".weight") ? layer.Name + ".weight" : null;
            if (name is null) continue; // reported as an extra layer by ValidateAgainstBase below
            var info = source.GetInfo(name);
            if (!SafetensorsDTypes.IsReadableAsFloat(info.DType))
                throw new ArgumentException($"base tensor '{name}' is {info.DType}, not a float weight", nameof(source));
            shapes[layer.Name] = MatrixShape(info);
            targets[name] = layer;
        }
        adapter.ValidateAgainstBase(shapes, allowUnadaptedBaseLayers: true); // a layer with no base tensor is named as extra
        return targets;
    }

    /// <summary>
    /// Writes <paramref name="file"/> to <paramref name="outputPath"/> (atomically) with each tensor in <paramref name="targets"/>
    /// merged and every other tensor copied byte for byte: same names, order, shapes, dtypes and metadata.
    /// </summary>
    internal static void WriteMerged(Backend backend, SafetensorsFile file, IReadOnlyDictionary<string, AdapterLayer> targets, float scale, string outputPath)
    {
        var writer = new SafetensorsWriter();
        foreach (var (k, v) in file.Metadata) writer.Metadata[k] = v;
        foreach (var info in file.Tensors)
        {
            if (!targets.TryGetValue(info.Name, out var layer))
            {
                writer.AddRaw(info.Name, info.DType, info.Shape, file.GetBytes(info.Name).ToArray());
                continue;
            }
            var merged = MergeLayer(backend, file.ReadFloats(info.Name), layer, scale);
            writer.Add(info.Name, info.DType, info.Shape, merged);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outputPath))!);
        writer.Save(outputPath);
    }

    /// <summary>W0 + s A diag(lambda) B on the backend (SaraLinear's merge), as a row-major m x n array.</summary>
    public static float[] MergeLayer(Backend backend, float[] w0, AdapterLayer layer, float scale)
    {
        using var sara = SaraLinear.FromFactors(backend, layer.Name, w0, layer.M, layer.N, null,
            layer.Tensors["A"].Data, layer.Tensors["B"].Data, layer.K, layer.Tensors["lambda"].Data,
            new SaraOptions { Scale = scale });
        sara.Merge();
        return sara.W0.ToArray();
    }

    private static (int Rows, int Cols) MatrixShape(SafetensorsTensorInfo info)
    {
        var s = info.Shape;
        if (s.Length < 2) return (s.Length == 1 ? checked((int)s[0]) : 1, 1);
        return (checked((int)s[0]), checked((int)s.Skip(1).Aggregate(1L, (a, d) => a * d)));
    }
}
