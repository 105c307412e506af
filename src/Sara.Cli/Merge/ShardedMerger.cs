using Sara.Native.Backends;
using Sara.Native.IO;

namespace Sara.Cli.Merge;

/// <summary>
/// <c>sara merge</c> of a sharded checkpoint: the base's <c>*.safetensors.index.json</c> in, the same layout out (each shard
/// under its own file name in the output index's folder, every tensor in the shard the base puts it in, an index with the
/// same weight_map). Each shard is streamed by <see cref="AdapterMerger.MergedWriter"/>, the single-file merge, with the
/// adapter layers whose tensors it holds, so the merged tensors are the same bits as a single-file merge of the same
/// weights, dtypes kept, and memory holds about one base tensor (never more than a shard). All shards and the index are
/// written as one output (<see cref="AtomicFile.WriteAll"/>): nothing replaces an existing file until every shard is
/// complete, and the index is renamed last. No output may be an input (<see cref="OutputFile"/>).
/// </summary>
public static class ShardedMerger
{
    public static bool IsIndex(string path) => path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);

    public static AdapterMerger.Result Merge(Backend backend, string baseIndex, string adapterPath, string outputIndex)
    {
        if (!IsIndex(outputIndex))
            throw new ArgumentException($"the base '{SafeText.Line(baseIndex)}' is sharded, so the output must be an index .json too "
                                        + $"(e.g. out/model.safetensors.index.json); got '{SafeText.Line(outputIndex)}'", nameof(outputIndex));
        var baseFolder = Path.GetDirectoryName(Path.GetFullPath(baseIndex))!;
        var outFolder = Path.GetDirectoryName(Path.GetFullPath(outputIndex))!;
        if (Directory.Exists(outFolder) && RegularFile.Identify(outFolder).SameFileAs(RegularFile.Identify(baseFolder)))
            throw new ArgumentException($"the output index '{SafeText.Line(outputIndex)}' is in the base's folder: its shards would replace the base's shards; "
                                        + "choose another folder", nameof(outputIndex));
        var adapter = AdapterMerger.LoadSara(adapterPath);
        using var source = ShardedSafetensors.Open(baseIndex);
        var inputs = source.Shards.Select(s => (s.Path, "base shard")).Append((baseIndex, "base index")).Append((adapterPath, "adapter")).ToList();
        var outputs = source.Shards.Select(s => Path.Combine(outFolder, Path.GetFileName(s.Path))).Append(Path.GetFullPath(outputIndex)).ToList();
        foreach (var output in outputs) OutputFile.Check(output, "the output", inputs);
        OutputFile.CheckDistinct(outputs.Select(o => ((string?)o, $"output '{SafeText.Line(o)}'")));
        var targets = AdapterMerger.Targets(source, adapter);
        var scale = (float)adapter.Metadata.Scale;

        var files = new List<(string, Action<FileStream>)>();
        foreach (var shard in source.Shards)
        {
            // Merge only the tensors the weight_map assigns to this shard; copy everything else the shard holds.
            var mine = targets.Where(t => ReferenceEquals(source.Shard(t.Key), shard)).ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal);
            files.Add((Path.Combine(outFolder, Path.GetFileName(shard.Path)), AdapterMerger.MergedWriter(backend, shard, mine, scale).WriteTo));
        }
        var weightMap = source.Tensors.ToDictionary(t => t.Name, t => Path.GetFileName(source.Shard(t.Name).Path), StringComparer.Ordinal);
        var totalSize = source.Tensors.Sum(t => t.ElementCount * SafetensorsDTypes.SizeOf(t.DType));
        files.Add((Path.GetFullPath(outputIndex), stream => ShardedSafetensors.WriteIndex(stream, weightMap, totalSize)));
        Directory.CreateDirectory(outFolder);
        AtomicFile.WriteAll(files);
        return new AdapterMerger.Result(targets.Count, source.Tensors.Count - targets.Count);
    }
}
