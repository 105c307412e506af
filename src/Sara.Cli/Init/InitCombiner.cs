using System.Globalization;
using System.Text.Json;
using Sara.Native.IO;
using Sara.Native.Svd;

namespace Sara.Cli.Init;

/// <summary>
/// `sara init --combine PART... -o OUT`: joins the files that `--part i/N` runs wrote (on any machines or devices) into
/// the adapter one run would have written, bit for bit: same settings (metadata "sara_init"), every part 1..N present
/// once, layers in the checkpoint's order, tensors copied as they are, written by the same assembly as a single run.
/// </summary>
internal static class InitCombiner
{
    public sealed record Outcome(int Parts, int Layers, RankPlan Plan);

    private sealed record Part(string Path, SafetensorsFile File, string Settings, int Index, int Count,
        Dictionary<string, (int K, int M, int N)> Layers, RankPlan Plan);

    public static Outcome Combine(IReadOnlyList<string> partPaths, string output, string planPath, CancellationToken cancel)
    {
        if (partPaths.Count == 0) throw new UserErrorException("--combine needs the part files");
        OutputFile.CheckDistinct([(output, "--output"), (planPath, "--plan")]);
        foreach (var path in partPaths) Commands.CommonOptions.RequireFile(path, "part file");
        var inputs = partPaths.Select(p => (p, "part file")).ToList();
        OutputFile.Check(output, "--output", inputs);
        OutputFile.Check(planPath, "--plan", inputs);
        var parts = new List<Part>();
        try
        {
            foreach (var path in partPaths) parts.Add(Open(path));
            var first = parts[0];
            foreach (var p in parts.Skip(1))
            {
                if (p.Settings != first.Settings)
                    throw new UserErrorException($"'{SafeText.Line(p.Path)}' was made with other settings or another checkpoint than '{SafeText.Line(first.Path)}'");
                if (p.Count != first.Count)
                    throw new UserErrorException($"'{SafeText.Line(p.Path)}' is part {p.Index}/{p.Count}, '{SafeText.Line(first.Path)}' part {first.Index}/{first.Count}");
            }
            var seen = parts.GroupBy(p => p.Index).FirstOrDefault(g => g.Count() > 1);
            if (seen is not null) throw new UserErrorException($"part {seen.Key}/{first.Count} is given twice: {string.Join(", ", seen.Select(p => SafeText.Line(p.Path)))}");
            var missing = Enumerable.Range(1, first.Count).Where(i => parts.All(p => p.Index != i)).ToList();
            if (missing.Count > 0) throw new UserErrorException($"part{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)} of {first.Count} missing");

            var order = InitSettings.LayerNames(first.Settings);
            var owner = new Dictionary<string, Part>(StringComparer.Ordinal);
            foreach (var p in parts)
                foreach (var layer in p.Layers.Keys)
                    if (!owner.TryAdd(layer, p)) throw new UserErrorException($"layer '{SafeText.Name(layer)}' is in both '{SafeText.Line(owner[layer].Path)}' and '{SafeText.Line(p.Path)}'");
            var absent = order.FirstOrDefault(l => !owner.ContainsKey(l));
            if (absent is not null) throw new UserErrorException($"layer '{SafeText.Name(absent)}' is in no part (a part file is incomplete or from another split)");
            if (owner.Count != order.Count) throw new UserErrorException("the parts hold layers that the settings do not list");

            var layers = order.Select(l => (l, owner[l].Layers[l].K, owner[l].Layers[l].M, owner[l].Layers[l].N)).ToList();
            var extra = new Dictionary<string, string>(StringComparer.Ordinal) { [InitRunner.SettingsKey] = first.Settings };
            InitRunner.Assemble(output, Metadata(first), layers, (layer, key) =>
            {
                var part = owner[layer];
                return part.File.ReadFloats($"{layer}.{key}");   // positioned reads: nothing stays mapped
            }, extra, cancel);
            var byLayer = parts.SelectMany(p => p.Plan.Layers).ToDictionary(l => l.Layer, StringComparer.Ordinal);
            var plan = new RankPlan(order.Where(byLayer.ContainsKey).Select(l => byLayer[l]), first.Plan.Options);
            InitRunner.WritePlan(planPath, plan);
            return new Outcome(parts.Count, layers.Count, plan);
        }
        finally
        {
            foreach (var p in parts) p.File.Dispose();
        }
    }

    private static Part Open(string path)
    {
        var file = SafetensorsFile.Open(path);
        try
        {
            var meta = file.Metadata;
            if (meta.GetValueOrDefault("format") != AdapterFile.FormatName || !meta.TryGetValue(InitRunner.SettingsKey, out var settings))
                throw new UserErrorException($"'{SafeText.Line(path)}' is not an adapter written by sara init");
            if (!meta.TryGetValue(InitRunner.PartKey, out var partText) || WorkAssignment.ParsePart(partText) is not { } part)
                throw new UserErrorException($"'{SafeText.Line(path)}' is not a part (it was not written with --part i/N)");
            var layers = new Dictionary<string, (int, int, int)>(StringComparer.Ordinal);
            using (var doc = JsonDocument.Parse(meta.GetValueOrDefault("layers") ?? "{}"))
                foreach (var l in doc.RootElement.EnumerateObject())
                    layers[l.Name] = (l.Value.GetProperty("k").GetInt32(), l.Value.GetProperty("m").GetInt32(), l.Value.GetProperty("n").GetInt32());
            var plan = RankPlan.FromJson(meta.GetValueOrDefault(InitRunner.PlanKey) ?? throw new UserErrorException($"'{SafeText.Line(path)}' has no plan"));
            return new Part(path, file, settings, part.Index, part.Count, layers, plan);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            file.Dispose();
            throw new UserErrorException($"'{SafeText.Line(path)}': the part's metadata is damaged ({e.Message})");
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The adapter metadata as the part file states it (so the combined file keeps the version that made it).</summary>
    private static AdapterMetadata Metadata(Part p)
    {
        var m = p.File.Metadata;
        string Get(string key) => m.TryGetValue(key, out var v) ? v : throw new UserErrorException($"'{SafeText.Line(p.Path)}' has no metadata '{key}'");
        if (!AdapterMethods.TryParse(Get("method"), out var method)) throw new UserErrorException($"'{SafeText.Line(p.Path)}': unknown method '{Get("method")}'");
        return new AdapterMetadata(method, Get("criterion"), double.Parse(Get("tau"), CultureInfo.InvariantCulture),
            double.Parse(Get("scale"), CultureInfo.InvariantCulture), int.Parse(Get("experts"), CultureInfo.InvariantCulture),
            Get("library_version"), int.Parse(Get("format_version"), CultureInfo.InvariantCulture));
    }
}
