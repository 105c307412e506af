using Sara.Native.Backends;
using Sara.Native.IO;

namespace Sara.Cli.Merge;

/// <summary>
/// <c>sara merge</c> of a sharded checkpoint: the base's <c>*.safetensors.index.json</c> in, the same layout out (each shard
/// under its own file name in the output index's folder, every tensor in the shard the base puts it in, an index with the
/// same weight_map). Each shard goes through <see cref="AdapterMerger.WriteMerged"/>, the single-file merge, with the
/// adapter layers whose tensors it holds, so the merged tensors are the same bits as a single-file merge of the same
/// weights, dtypes kept, and memory holds one shard at a time. Shards are written to a staging folder beside the output
/// and moved in only when all are complete; the index is written last. The output folder may not be the base's.
/// </summary>
public static class ShardedMerger
{
    public static bool IsIndex(string path) => path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);

    public static AdapterMerger.Result Merge(Backend backend, string baseIndex, AdapterFile adapter, string outputIndex)
    {
        if (!IsIndex(outputIndex))
            throw new ArgumentException($"the base '{baseIndex}' is sharded, so the output must be an index .json too (e.g. out/model.safetensors.index.json); got '{outputIndex}'", nameof(outputIndex));
        using var source = ShardedSafetensors.Open(baseIndex);
        var baseFolder = Path.GetDirectoryName(Path.GetFullPath(baseIndex))!;
        var outFolder = Path.GetDirectoryName(Path.GetFullPath(outputIndex))!;
        if (string.Equals(baseFolder, outFolder, StringComparison.Ordinal))
            throw new ArgumentException($"the output index '{outputIndex}' is in the base's folder: its shards would replace the base's shards; choose another folder", nameof(outputIndex));
        var targets = AdapterMerger.Targets(source, adapter);
        var scale = (float)adapter.Metadata.Scale;

        Directory.CreateDirectory(outFolder);
        var staging = Path.Combine(outFolder, $".sara-merge-{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(staging);
        try
        {
            var shardNames = new List<string>();
            foreach (var shard in source.Shards)
            {
                // Merge only the tensors the weight_map assigns to this shard; copy everything else the shard holds.
                var mine = targets.Where(t => ReferenceEquals(source.Shard(t.Key), shard)).ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal);
                var name = Path.GetFileName(shard.Path);
                AdapterMerger.WriteMerged(backend, shard, mine, scale, Path.Combine(staging, name));
                shardNames.Add(name);
            }
            foreach (var name in shardNames) File.Move(Path.Combine(staging, name), Path.Combine(outFolder, name), overwrite: true);
            var weightMap = source.Tensors.ToDictionary(t => t.Name, t => Path.GetFileName(source.Shard(t.Name).Path), StringComparer.Ordinal);
            var totalSize = source.Tensors.Sum(t => t.ElementCount * SafetensorsDTypes.SizeOf(t.DType));
            ShardedSafetensors.WriteIndex(outputIndex, weightMap, totalSize);
        }
        finally
        {
            try { Directory.Delete(staging, recursive: true); }
            catch (IOException) { /* best effort: the merge's own error matters more */ }
        }
        return new AdapterMerger.Result(targets.Count, source.Tensors.Count - targets.Count);
    }
}
