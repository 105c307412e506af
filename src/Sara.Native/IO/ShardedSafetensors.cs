// A sharded checkpoint: model.safetensors.index.json's weight_map names the shard file of each tensor.
using System.Text.Json;

namespace Sara.Native.IO;

/// <summary>
/// Opens every shard listed by a <c>*.safetensors.index.json</c> (its <c>weight_map</c>: tensor name to
/// shard file, relative to the index's folder) and reads tensors through them. Each mapped tensor must
/// exist in its shard; shard names must stay inside the index's folder.
/// </summary>
public sealed class ShardedSafetensors : ISafetensorsSource
{
    private readonly Dictionary<string, SafetensorsFile> _shardOf;
    private readonly List<SafetensorsFile> _shards;

    public string Path { get; }
    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The opened shard files.</summary>
    public IReadOnlyList<SafetensorsFile> Shards => _shards;

    private ShardedSafetensors(string path, List<SafetensorsFile> shards, Dictionary<string, SafetensorsFile> shardOf,
        List<SafetensorsTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        _shards = shards;
        _shardOf = shardOf;
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>Opens the index at <paramref name="indexPath"/> and all its shards.</summary>
    public static ShardedSafetensors Open(string indexPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(indexPath);
        string full = System.IO.Path.GetFullPath(indexPath);
        var (weightMap, metadata) = ReadIndex(full);
        // Shards are looked up in, and confined to, the folder the index really lives in (links followed).
        string folder = RegularFile.RealFolder(full);

        var opened = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        var shardOf = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        var tensors = new List<SafetensorsTensorInfo>();
        try
        {
            foreach (var (tensor, shardName) in weightMap)
            {
                string shown = SafeText.Name(shardName);
                string? shardPath;
                try
                {
                    shardPath = RegularFile.ResolveInside(folder, shardName);
                }
                catch (FileNotFoundException)
                {
                    throw new SafetensorsFormatException(full, tensor, $"shard file '{shown}' does not exist");
                }
                if (shardPath is null)
                    throw new SafetensorsFormatException(full, tensor, $"shard '{shown}' is not a file in the index's folder (symbolic links followed)");
                if (!opened.TryGetValue(shardPath, out var shard))
                {
                    shard = SafetensorsFile.Open(shardPath);
                    opened.Add(shardPath, shard);
                }
                if (!shard.Contains(tensor))
                    throw new SafetensorsFormatException(full, tensor, $"weight_map puts it in '{shown}', which has no such tensor");
                shardOf.Add(tensor, shard);
                tensors.Add(shard.GetInfo(tensor));
            }
        }
        catch
        {
            foreach (var s in opened.Values) s.Dispose();
            throw;
        }
        return new ShardedSafetensors(full, opened.Values.ToList(), shardOf, tensors, metadata);
    }

    private static (List<(string Tensor, string Shard)> WeightMap, Dictionary<string, string> Metadata) ReadIndex(string full)
    {
        var bytes = RegularFile.ReadAllBytes(full, "shard index");
        if (StrictJson.Check(bytes) is { } fault)
            throw new SafetensorsFormatException(full, null, $"index is not strict JSON: {fault}");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(full, null, $"index is not valid JSON ({e.Message})", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new SafetensorsFormatException(full, null, "index must be a JSON object with a 'weight_map' object");
            var weightMap = new List<(string, string)>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(p.Value.GetString()))
                    throw new SafetensorsFormatException(full, p.Name, "weight_map value must be a shard file name");
                if (!seen.Add(p.Name))
                    throw new SafetensorsFormatException(full, p.Name, "duplicate tensor name in weight_map");
                weightMap.Add((p.Name, p.Value.GetString()!));
            }
            // "metadata" holds mixed values (e.g. total_size is a number): keep each as its text.
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object)
                foreach (var p in meta.EnumerateObject())
                    metadata[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
            return (weightMap, metadata);
        }
    }

    public bool Contains(string name) => _shardOf.ContainsKey(name);

    public SafetensorsTensorInfo GetInfo(string name) => Shard(name).GetInfo(name);

    public float[] ReadFloats(string name) => Shard(name).ReadFloats(name);

    public void ReadBytes(string name, long byteOffset, Span<byte> destination) => Shard(name).ReadBytes(name, byteOffset, destination);

    /// <summary>The index file and every shard file it opened.</summary>
    public IEnumerable<string> Files => new[] { Path }.Concat(_shards.Select(s => s.Path));

    /// <summary>The shard file that holds <paramref name="name"/>.</summary>
    public SafetensorsFile Shard(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _shardOf.TryGetValue(name, out var shard)
            ? shard
            : throw new KeyNotFoundException($"{Path}: weight_map has no tensor named '{name}'");
    }

    public void Dispose()
    {
        foreach (var s in _shards) s.Dispose();
    }

    /// <summary>Writes an index .json for shards already saved in <paramref name="indexPath"/>'s folder.</summary>
    public static void WriteIndex(string indexPath, IReadOnlyDictionary<string, string> weightMap, long totalSize)
    {
        ArgumentNullException.ThrowIfNull(weightMap);
        AtomicFile.Write(indexPath, stream => WriteIndex(stream, weightMap, totalSize));
    }

    /// <summary>The index JSON (<c>metadata.total_size</c>, <c>weight_map</c> sorted by tensor name) written to <paramref name="stream"/>.</summary>
    public static void WriteIndex(Stream stream, IReadOnlyDictionary<string, string> weightMap, long totalSize)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(weightMap);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("metadata");
        json.WriteNumber("total_size", totalSize);
        json.WriteEndObject();
        json.WriteStartObject("weight_map");
        foreach (var (tensor, shard) in weightMap.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            json.WriteString(tensor, shard);
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
