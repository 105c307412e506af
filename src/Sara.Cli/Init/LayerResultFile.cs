using System.Globalization;
using Sara.Native.IO;
using Sara.Native.Svd;

namespace Sara.Cli.Init;

/// <summary>
/// One finished layer in the work folder: a small .safetensors with the layer's adapter tensors (named by key:
/// "lambda", "A", "B", or Mo-SARA's set) and metadata naming the layer, its index in the settings, the settings'
/// fingerprint and its plan entry. Written atomically, so a file that exists is complete; `--resume` skips those.
/// </summary>
internal sealed record LayerResultFile(string Path, string Layer, int Index, int K, int M, int N, LayerRank Plan)
{
    public const string Format = "sara-init-layer";

    public static string NameFor(int index) => $"layer-{index:D5}.safetensors";

    public static void Write(string path, string fingerprint, int index, LayerRank plan, IReadOnlyDictionary<string, float[]> tensors)
    {
        var writer = new SafetensorsWriter();
        writer.Metadata["format"] = Format;
        writer.Metadata["fingerprint"] = fingerprint;
        writer.Metadata["layer"] = plan.Layer;
        writer.Metadata["index"] = index.ToString(CultureInfo.InvariantCulture);
        writer.Metadata["plan"] = new RankPlan([plan]).ToJson();
        foreach (var (key, data) in tensors) writer.Add(key, TensorShape(key, plan, tensors), data);
        writer.Save(path);
    }

    private static long[] TensorShape(string key, LayerRank plan, IReadOnlyDictionary<string, float[]> tensors) => key switch
    {
        "A" => [plan.Rows, plan.K],
        "B" => [plan.K, plan.Cols],
        "lambda" or "bg" => [tensors[key].Length],
        _ => [tensors[key].Length / plan.K, plan.K],   // Lambda, Wg: E x k
    };

    /// <summary>The file's header when it is a finished layer of these settings at this index; null when it is not (stale or foreign).</summary>
    public static LayerResultFile? TryRead(string path, string fingerprint, int index, string layer)
    {
        try
        {
            using var file = SafetensorsFile.Open(path);
            var meta = file.Metadata;
            if (meta.GetValueOrDefault("format") != Format || meta.GetValueOrDefault("fingerprint") != fingerprint
                || meta.GetValueOrDefault("layer") != layer || meta.GetValueOrDefault("index") != index.ToString(CultureInfo.InvariantCulture)
                || !meta.TryGetValue("plan", out var planJson))
                return null;
            var plan = RankPlan.FromJson(planJson).Layers.Single();
            return new LayerResultFile(path, layer, index, plan.K, plan.Rows, plan.Cols, plan);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>One tensor's data ("A", "B", "lambda", ...).</summary>
    public float[] Read(string key)
    {
        using var file = SafetensorsFile.Open(Path);
        return file.ReadFloats(key);
    }
}
