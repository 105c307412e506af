// Lists the weight matrices of a checkpoint (.safetensors, sharded index .json, or .onnx) for rank analysis.
namespace Sara.Native.IO;

/// <summary>A tensor that was not listed as a candidate, and why.</summary>
public sealed record SkippedWeight(string Name, IReadOnlyList<long> Shape, string Reason);

/// <summary>
/// The candidate matrices of a checkpoint: 2-D weights as m x n (out x in) and 4-D conv weights as
/// out x (in*kh*kw); 1-D tensors (biases, norms), other ranks and non-float types are skipped.
/// Data is read lazily by <see cref="WeightMatrix.Load"/> while the source is open.
/// </summary>
public sealed class WeightSource : IDisposable
{
    private readonly IDisposable? _owned;

    public string Path { get; }
    public IReadOnlyList<WeightMatrix> Matrices { get; }

    /// <summary>Tensors passed over (filtered out, wrong rank, not float), with the reason.</summary>
    public IReadOnlyList<SkippedWeight> Skipped { get; }

    /// <summary>Every file the weights are read from: the checkpoint, its shards, an ONNX model's external data files.</summary>
    public IReadOnlyList<string> InputFiles { get; }

    private WeightSource(string path, List<WeightMatrix> matrices, List<SkippedWeight> skipped, IDisposable? owned, IEnumerable<string> inputFiles)
    {
        Path = path;
        InputFiles = inputFiles.ToList();
        Matrices = matrices;
        Skipped = skipped;
        _owned = owned;
    }

    /// <summary>
    /// Opens <paramref name="path"/>: a .safetensors file, a sharded checkpoint's index .json, or an .onnx
    /// model; keeps the weights whose names <paramref name="filter"/> selects (all when null).
    /// </summary>
    public static WeightSource Open(string path, WeightFilter? filter = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        filter ??= WeightFilter.All;
        string ext = System.IO.Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".safetensors" => FromSafetensors(SafetensorsFile.Open(path), filter),
            ".json" => FromSafetensors(ShardedSafetensors.Open(path), filter),
            ".onnx" => FromOnnx(OnnxWeights.Load(path), filter),
            _ => throw new ArgumentException($"'{SafeText.Line(path)}': expected a .safetensors file, a .safetensors.index.json or an .onnx model", nameof(path)),
        };
    }

    private static WeightSource FromSafetensors(ISafetensorsSource source, WeightFilter filter)
    {
        var matrices = new List<WeightMatrix>();
        var skipped = new List<SkippedWeight>();
        foreach (var t in source.Tensors)
        {
            string? reason = SkipReason(t.Name, t.Shape, SafetensorsDTypes.IsReadableAsFloat(t.DType), filter);
            if (reason is not null) { skipped.Add(new SkippedWeight(t.Name, t.Shape, reason)); continue; }
            var layout = t.Shape.Length == 4 ? WeightLayout.Conv : WeightLayout.Linear;
            string name = t.Name;
            // SafetensorsFile converts with positioned reads (nothing stays mapped): straight into the caller's buffer.
            var file = source is ShardedSafetensors shards ? shards.Shard(name) : (SafetensorsFile)source;
            matrices.Add(new WeightMatrix(name, t.Shape, layout, () => source.ReadFloats(name), destination => file.ReadFloats(name, destination)));
        }
        var files = source is ShardedSafetensors sharded ? sharded.Files : [source.Path];
        return new WeightSource(source.Path, matrices, skipped, source, files);
    }

    private static WeightSource FromOnnx(OnnxWeights model, WeightFilter filter)
    {
        var matrices = new List<WeightMatrix>();
        var skipped = new List<SkippedWeight>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var init in model.Initializers)
        {
            // A weight named by a bare number is listed under its module's name; a clash keeps the stored name.
            var display = model.DisplayNameOf(init.Name);
            if (display != init.Name && (model.Initializers.Any(i => i.Name == display) || !names.Add(display))) display = init.Name;
            string? reason = SkipReason(display, init.Shape, init.IsFloat, filter, init.Name);
            if (reason is not null) { skipped.Add(new SkippedWeight(display, init.Shape, reason)); continue; }
            var uses = model.UsesOf(init.Name);
            var layout = init.Shape.Length == 4 ? WeightLayout.Conv : OnnxLinearLayout(uses);
            matrices.Add(new WeightMatrix(display, init.Shape, layout, init.ReadFloats, storedName: init.Name,
                isEmbeddingTable: uses.Any(u => u.OpType == "Gather" && u.InputIndex == 0)));
        }
        return new WeightSource(model.Path, matrices, skipped, null, new[] { model.Path }.Concat(model.ExternalFiles()));
    }

    /// <summary>ONNX MatMul (Y = X W) and Gemm without transB store W as in x out; Gemm with transB as out x in.</summary>
    private static WeightLayout OnnxLinearLayout(IReadOnlyList<OnnxUse> uses)
    {
        var use = uses.FirstOrDefault(u => u.InputIndex == 1 && u.OpType is "MatMul" or "Gemm");
        return use is null || (use.OpType == "Gemm" && use.TransB) ? WeightLayout.Linear : WeightLayout.LinearTransposed;
    }

    private static string? SkipReason(string name, long[] shape, bool isFloat, WeightFilter filter, string? storedName = null)
    {
        if (!filter.IsMatchAny(storedName is null || storedName == name ? [name] : [name, storedName]))
            return "not selected by the filter";
        if (!isFloat) return "not a float tensor";
        if (shape.Length < 2) return shape.Length == 1 ? "1-D (bias or norm)" : "scalar";
        if (shape.Length is not (2 or 4)) return $"{shape.Length}-D (only 2-D and 4-D weights are matrices here)";
        if (shape.Any(d => d == 0)) return "empty";
        return null;
    }

    public void Dispose() => _owned?.Dispose();
}
