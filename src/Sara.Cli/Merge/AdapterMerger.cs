using System.Runtime.InteropServices;
using Sara.Native.Backends;
using Sara.Native.IO;
using Sara.Native.Layers;
using Sara.Native.Tensors;

namespace Sara.Cli.Merge;

/// <summary>
/// Folds a SARA adapter into its base checkpoint: for each adapted layer W' = W0 + s A diag(lambda) B, computed on the
/// chosen backend by <see cref="SaraLinear.Merge"/>; every other tensor is copied byte for byte. The output keeps the
/// base's tensor names, order, shapes and dtypes. An adapter layer "L" applies to the base tensor "L" or, failing that, "L.weight";
/// conv weights (out x in x kh x kw) are merged as out x (in*kh*kw). Mo-SARA adapters are refused. A BF16 / F16 base
/// weight is merged in its own dtype (loaded without a float32 copy; each element computed in float32 and rounded once).
/// </summary>
public static class AdapterMerger
{
    public sealed record Result(int MergedLayers, int CopiedTensors);

    public static Result Merge(Backend backend, string basePath, string adapterPath, string outputPath)
    {
        var adapter = AdapterFile.Load(adapterPath);
        if (adapter.Metadata.Method == AdapterMethod.MoSara)
            throw new NotSupportedException(
                $"'{adapterPath}' is a Mo-SARA adapter: it cannot be merged into the base weights, because its singular-value scaling depends on each token through the router gates; only SARA adapters merge");
        using var file = SafetensorsFile.Open(basePath);
        if (Path.GetFullPath(outputPath) == Path.GetFullPath(basePath))
            throw new ArgumentException($"the output '{outputPath}' must differ from the base checkpoint", nameof(outputPath));

        var targets = new Dictionary<string, AdapterLayer>(StringComparer.Ordinal);
        var shapes = new Dictionary<string, (int Rows, int Cols)>(StringComparer.Ordinal);
        foreach (var layer in adapter.Layers)
        {
            var name = file.Contains(layer.Name) ? layer.Name : file.Contains(layer.Name + ".weight") ? layer.Name + ".weight" : null;
            if (name is null) continue; // reported as an extra layer by ValidateAgainstBase below
            var info = file.GetInfo(name);
            if (!SafetensorsDTypes.IsReadableAsFloat(info.DType))
                throw new ArgumentException($"base tensor '{name}' is {info.DType}, not a float weight", nameof(basePath));
            shapes[layer.Name] = MatrixShape(info);
            targets[name] = layer;
        }
        adapter.ValidateAgainstBase(shapes, allowUnadaptedBaseLayers: true); // a layer with no base tensor is named as extra

        var scale = (float)adapter.Metadata.Scale;
        var writer = new SafetensorsWriter();
        foreach (var (k, v) in file.Metadata) writer.Metadata[k] = v;
        foreach (var info in file.Tensors)
        {
            if (!targets.TryGetValue(info.Name, out var layer))
            {
                writer.AddRaw(info.Name, info.DType, info.Shape, file.GetBytes(info.Name).ToArray());
                continue;
            }
            if (FloatConversions.TensorDType(info.DType) is DType.BF16 or DType.F16)
            {
                writer.AddRaw(info.Name, info.DType, info.Shape, MergeLayer16(backend, file, info.Name, layer, scale));
                continue;
            }
            var merged = MergeLayer(backend, file.ReadFloats(info.Name), layer, scale);
            writer.Add(info.Name, info.DType, info.Shape, merged);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outputPath))!);
        writer.Save(outputPath);
        return new Result(targets.Count, file.Tensors.Count - targets.Count);
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

    /// <summary>
    /// The same merge for a 16-bit base tensor, in its dtype: W0 loaded straight from the file as bf16 / f16,
    /// W0 + s A diag(lambda) B in float32 and rounded once; returns the merged tensor's raw little-endian bytes.
    /// </summary>
    public static byte[] MergeLayer16(Backend backend, ISafetensorsSource file, string name, AdapterLayer layer, float scale)
    {
        var w0 = SafetensorsTensors.Load(backend, file, name);
        using var sara = SaraLinear.FromFactors(backend, layer.Name, w0, null,
            layer.Tensors["A"].Data, layer.Tensors["B"].Data, layer.K, layer.Tensors["lambda"].Data, new SaraOptions { Scale = scale });
        sara.Merge();
        return MemoryMarshal.AsBytes(sara.W0.ToBits().AsSpan()).ToArray();
    }

    private static (int Rows, int Cols) MatrixShape(SafetensorsTensorInfo info)
    {
        var s = info.Shape;
        if (s.Length < 2) return (s.Length == 1 ? checked((int)s[0]) : 1, 1);
        return (checked((int)s[0]), checked((int)s.Skip(1).Aggregate(1L, (a, d) => a * d)));
    }
}
