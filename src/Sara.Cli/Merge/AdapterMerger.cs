using System.Runtime.InteropServices;
using Sara.Native.Backends;
using static System.FormattableString;
using Sara.Native.IO;
using Sara.Native.Layers;
using Sara.Native.Tensors;

namespace Sara.Cli.Merge;

/// <summary>
/// Folds a SARA adapter into its base checkpoint: for each adapted layer W' = W0 + s A diag(lambda) B, computed on the
/// chosen backend by <see cref="SaraLinear.Merge"/>; every other tensor is copied byte for byte. The output keeps the
/// base's tensor names, order, shapes and dtypes. An adapter layer "L" applies to the base tensor "L" or, failing that, "L.weight";
/// conv weights (out x in x kh x kw) are merged as out x (in*kh*kw). Mo-SARA adapters are refused. A BF16 / F16 base
/// weight is merged in its own dtype: loaded as a 16-bit tensor (no float32 copy), summed in float64, rounded once. A
/// sharded base (<c>model.safetensors.index.json</c>) is merged shard by shard into the same layout (<see cref="ShardedMerger"/>).
/// <para>
/// Safety: the output may not be the base or the adapter (same file by device and inode; see <see cref="OutputFile"/>).
/// An adapter holding NaN or infinity is refused, naming the tensor; a layer whose merged weights would become
/// non-finite in the base's dtype (overflow) is refused, naming the layer and the count; nothing is written then.
/// Streaming: the output is written tensor by tensor, each copied tensor in 1 MiB chunks and each merged layer computed
/// when it is written, so memory holds the adapter plus about one base tensor, whatever the checkpoint's size.
/// </para>
/// </summary>
public static class AdapterMerger
{
    public sealed record Result(int MergedLayers, int CopiedTensors);

    public static Result Merge(Backend backend, string basePath, string adapterPath, string outputPath)
    {
        if (ShardedMerger.IsIndex(basePath)) return ShardedMerger.Merge(backend, basePath, adapterPath, outputPath);
        if (ShardedMerger.IsIndex(outputPath))
            throw new ArgumentException($"the output '{SafeText.Line(outputPath)}' is a shard index, but the base '{SafeText.Line(basePath)}' is one file: "
                                        + "the output keeps the base's layout", nameof(outputPath));
        OutputFile.Check(outputPath, "the output", [(basePath, "base checkpoint"), (adapterPath, "adapter")]);
        var adapter = LoadSara(adapterPath);
        using var file = SafetensorsFile.Open(basePath);
        var targets = Targets(file, adapter);
        var writer = MergedWriter(backend, file, targets, (float)adapter.Metadata.Scale);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outputPath))!);
        writer.Save(outputPath);
        return new Result(targets.Count, file.Tensors.Count - targets.Count);
    }

    /// <summary>Loads an adapter for merging: Mo-SARA and non-finite values are refused with the reason.</summary>
    internal static AdapterFile LoadSara(string adapterPath)
    {
        var adapter = AdapterFile.Load(adapterPath);
        if (adapter.Metadata.Method == AdapterMethod.MoSara)
            throw new NotSupportedException(
                $"'{SafeText.Line(adapterPath)}' is a Mo-SARA adapter: it cannot be merged into the base weights, because its singular-value scaling depends on each token through the router gates; only SARA adapters merge");
        RefuseNonFinite(adapter, adapterPath);
        return adapter;
    }

    /// <summary>
    /// The base tensor each adapter layer merges into ("L", or failing that "L.weight"), checked: a float dtype, a shape an
    /// int indexes, the layer's shape; a layer with no base tensor is named as extra (one <see cref="AdapterMismatchException"/>
    /// lists every problem).
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
                throw new ArgumentException($"base tensor '{SafeText.Name(name)}' is {info.DType}, not a float weight", nameof(source));
            shapes[layer.Name] = MatrixShape(source.Path, info);
            targets[name] = layer;
        }
        adapter.ValidateAgainstBase(shapes, allowUnadaptedBaseLayers: true); // a layer with no base tensor is named as extra
        return targets;
    }

    /// <summary>
    /// A writer that streams <paramref name="file"/> with each tensor in <paramref name="targets"/> merged when it is written
    /// and every other tensor copied byte for byte: same names, order, shapes, dtypes and metadata. The file must stay
    /// open until the writer has written.
    /// </summary>
    internal static SafetensorsWriter MergedWriter(Backend backend, SafetensorsFile file, IReadOnlyDictionary<string, AdapterLayer> targets, float scale)
    {
        var writer = new SafetensorsWriter();
        foreach (var (k, v) in file.Metadata) writer.Metadata[k] = v;
        // One host buffer per distinct tensor size, reused: the writer encodes each merged tensor before the next is made.
        var buffers = new Dictionary<long, float[]>();
        float[] Buffer(long count) => buffers.TryGetValue(count, out var b) ? b : buffers[count] = new float[count];
        foreach (var info in file.Tensors)
        {
            string name = info.Name;
            if (targets.TryGetValue(name, out var layer) && FloatConversions.TensorDType(info.DType) is DType.BF16 or DType.F16)
                writer.AddRawLazy(name, info.DType, info.Shape, stream => MergeTensor16(backend, file, info, layer, scale, stream));
            else if (layer is not null)
                writer.AddLazy(name, info.DType, info.Shape, () => MergeTensor(backend, file, info, layer, scale, Buffer(info.ElementCount)));
            else
                writer.AddRawLazy(name, info.DType, info.Shape, stream => file.CopyBytes(name, stream));
        }
        return writer;
    }

    /// <summary>W0 + s A diag(lambda) B on the backend (SaraLinear's merge), as a row-major m x n array.</summary>
    public static float[] MergeLayer(Backend backend, float[] w0, AdapterLayer layer, float scale)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(w0);
        ArgumentNullException.ThrowIfNull(layer);
        var merged = (float[])w0.Clone();
        MergeInPlace(backend, merged, layer, scale);
        return merged;
    }

    /// <summary>Replaces <paramref name="w"/> (W0, row-major m x n) by W0 + s A diag(lambda) B.</summary>
    private static void MergeInPlace(Backend backend, float[] w, AdapterLayer layer, float scale)
    {
        using var sara = SaraLinear.FromFactors(backend, layer.Name, w, layer.M, layer.N, null,
            layer.Tensors["A"].Data, layer.Tensors["B"].Data, layer.K, layer.Tensors["lambda"].Data,
            new SaraOptions { Scale = scale });
        sara.Merge();
        backend.Download(sara.W0, w);
    }

    /// <summary>One base tensor merged, refused when weights that were finite become NaN or infinite in its dtype.</summary>
    private static float[] MergeTensor(Backend backend, SafetensorsFile file, SafetensorsTensorInfo info, AdapterLayer layer, float scale, float[] w)
    {
        file.ReadFloats(info.Name, w);
        long before = NonFinite(w, info.DType);
        MergeInPlace(backend, w, layer, scale);
        long became = NonFinite(w, info.DType) - before;
        if (became > 0) throw Overflow(layer, became, w.LongLength, info.DType, scale);
        return w;
    }

    /// <summary>
    /// A BF16 / F16 base tensor merged in its own dtype (DESIGN 3.1): loaded as a 16-bit tensor (no float32 copy),
    /// W0 + s A diag(lambda) B summed in float64 and rounded once (<see cref="SaraLinear.Merge"/>), written as raw bits;
    /// refused like <see cref="MergeTensor"/> when a weight overflows the dtype.
    /// </summary>
    private static void MergeTensor16(Backend backend, SafetensorsFile file, SafetensorsTensorInfo info, AdapterLayer layer, float scale, Stream output)
    {
        using var sara = SaraLinear.FromFactors(backend, layer.Name, SafetensorsTensors.Load(backend, file, info.Name), null,
            layer.Tensors["A"].Data, layer.Tensors["B"].Data, layer.K, layer.Tensors["lambda"].Data, new SaraOptions { Scale = scale });
        sara.Merge();
        var bits = sara.W0.ToBits();
        var infinity = info.DType == SafetensorsDType.BF16 ? 0x7F80 : 0x7C00;
        long became = bits.LongCount(h => (h & 0x7FFF) >= infinity);   // the base was finite: the layer refuses NaN / Inf
        if (became > 0) throw Overflow(layer, became, bits.LongLength, info.DType, scale);
        output.Write(MemoryMarshal.AsBytes(bits.AsSpan()));
    }

    private static InvalidDataException Overflow(AdapterLayer layer, long became, long count, SafetensorsDType dtype, float scale) =>
        new(Invariant(
            $"merging layer '{SafeText.Name(layer.Name)}' makes {became:N0} of its {count:N0} weights NaN or infinite in {SafetensorsDTypes.ToHeaderName(dtype)} ")
            + Invariant($"(adapter scale {scale:R}, largest |lambda| {layer.Tensors["lambda"].Data.Max(MathF.Abs):R}): refused, nothing written"));

    /// <summary>How many values are NaN or infinite once stored as <paramref name="dtype"/> (F16 and BF16 overflow sooner than float).</summary>
    internal static long NonFinite(ReadOnlySpan<float> values, SafetensorsDType dtype)
    {
        long count = 0;
        foreach (var v in values)
        {
            bool finite = dtype switch
            {
                SafetensorsDType.F16 => Half.IsFinite((Half)v),
                SafetensorsDType.BF16 => float.IsFinite(FloatConversions.FromBFloat16Bits(FloatConversions.ToBFloat16Bits(v))),
                _ => float.IsFinite(v),
            };
            if (!finite) count++;
        }
        return count;
    }

    /// <summary>Refuses an adapter with a NaN or infinite value, naming the tensor and how many.</summary>
    private static void RefuseNonFinite(AdapterFile adapter, string adapterPath)
    {
        foreach (var layer in adapter.Layers)
            foreach (var (key, tensor) in layer.Tensors)
            {
                long bad = NonFinite(tensor.Data, SafetensorsDType.F32);
                if (bad > 0)
                    throw new SafetensorsFormatException(adapterPath, $"{layer.Name}.{key}",
                        Invariant($"holds {bad:N0} NaN or infinite value(s) of {tensor.Data.Length:N0}: a trained adapter must be finite; refused, nothing written"));
            }
    }

    /// <summary>The m x n a base tensor merges as (a conv's trailing dimensions flattened); refuses what an int cannot index.</summary>
    private static (int Rows, int Cols) MatrixShape(string path, SafetensorsTensorInfo info)
    {
        var s = info.Shape;
        long rows = s.Length == 0 ? 1 : s[0], cols = 1;
        foreach (var d in s.Skip(1))
            cols = d != 0 && cols > int.MaxValue / d ? long.MaxValue : cols * d;
        if (rows > int.MaxValue || cols > int.MaxValue)
            throw new SafetensorsFormatException(path, info.Name,
                $"shape {info.ShapeText} cannot be merged: as a matrix it has more than {int.MaxValue} rows or columns");
        return ((int)rows, (int)cols);
    }
}
