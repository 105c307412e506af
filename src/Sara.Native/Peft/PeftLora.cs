// A PEFT LoRA adapter folder in memory: adapter_config.json plus lora_A / lora_B of each module.
using Sara.Native.IO;

namespace Sara.Native.Peft;

/// <summary>
/// One adapted module: <see cref="Module"/> is its path inside the base model (what PEFT's patterns and target_modules
/// match), <see cref="Key"/> the tensor-name stem in adapter_model.safetensors (usually <c>base_model.model.</c> +
/// module); <c>lora_A</c> is <c>[r, in]</c>, <c>lora_B</c> <c>[out, r]</c>, both row-major.
/// </summary>
public sealed record PeftModule(string Key, string Module, int R, int In, int Out, float[] LoraA, float[] LoraB)
{
    public string KeyA => Key + ".lora_A.weight";
    public string KeyB => Key + ".lora_B.weight";
}

/// <summary>
/// A PEFT LoRA as PEFT's <c>save_pretrained</c> writes it: a folder with <c>adapter_config.json</c> and
/// <c>adapter_model.safetensors</c>, whose keys are <c>&lt;prefix&gt;&lt;module&gt;.lora_A.weight</c> and
/// <c>...lora_B.weight</c> (the adapter name is not part of the key).
/// </summary>
public sealed record PeftLora(PeftLoraConfig Config, IReadOnlyList<PeftModule> Modules)
{
    /// <summary>The module path PEFT matches for a key stem: the stem without PEFT's own <c>base_model.model.</c>.</summary>
    public static string ModulePath(string keyStem) =>
        keyStem.StartsWith(PeftLoraConfig.DefaultPrefix, StringComparison.Ordinal) ? keyStem[PeftLoraConfig.DefaultPrefix.Length..] : keyStem;

    /// <summary>Writes both files into <paramref name="folder"/> (created when missing) as one output (<see cref="AtomicFile.WriteAll"/>); tensors are float32.</summary>
    public void Save(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Directory.CreateDirectory(folder);
        var writer = new SafetensorsWriter();
        writer.Metadata["format"] = "pt"; // what PEFT's safetensors save writes
        foreach (var m in Modules)
        {
            writer.Add(m.KeyA, SafetensorsDType.F32, [m.R, m.In], m.LoraA);
            writer.Add(m.KeyB, SafetensorsDType.F32, [m.Out, m.R], m.LoraB);
        }
        AtomicFile.WriteAll([(Path.Combine(folder, PeftLoraConfig.WeightsFileName), writer.WriteTo), (Path.Combine(folder, PeftLoraConfig.FileName), Config.WriteTo)]);
    }

    /// <summary>
    /// Reads a PEFT LoRA folder. Every key must be <c>&lt;prefix&gt;&lt;module&gt;.lora_A.weight</c> or <c>.lora_B.weight</c>;
    /// each module needs both, with <c>lora_A [r, in]</c>, <c>lora_B [out, r]</c>, the rank its config gives it, and
    /// finite values; every pattern key must match a module. Each problem is one <see cref="InvalidDataException"/> line.
    /// </summary>
    public static PeftLora Load(string folder, string prefix = PeftLoraConfig.DefaultPrefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(prefix);
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"'{SafeText.Name(folder)}' is not a folder (a PEFT adapter is a folder holding {PeftLoraConfig.FileName} and {PeftLoraConfig.WeightsFileName})");
        var configPath = Path.Combine(folder, PeftLoraConfig.FileName);
        if (!File.Exists(configPath))
            throw new FileNotFoundException($"'{SafeText.Name(folder)}' has no {PeftLoraConfig.FileName}: without it the rank, alpha and scaling of the adapter are unknown");
        var weightsPath = Path.Combine(folder, PeftLoraConfig.WeightsFileName);
        if (!File.Exists(weightsPath))
            throw new FileNotFoundException(File.Exists(Path.Combine(folder, "adapter_model.bin"))
                ? $"'{SafeText.Name(folder)}' holds adapter_model.bin (a Python pickle, not read here); save the adapter with safe_serialization=True to get {PeftLoraConfig.WeightsFileName}"
                : $"'{SafeText.Name(folder)}' has no {PeftLoraConfig.WeightsFileName}");
        var config = PeftLoraConfig.Load(configPath);

        using var file = SafetensorsFile.Open(weightsPath);
        var stems = new List<string>();
        var parts = new Dictionary<string, (SafetensorsTensorInfo? A, SafetensorsTensorInfo? B)>(StringComparer.Ordinal);
        foreach (var t in file.Tensors)
        {
            var (stem, isA) = t.Name.EndsWith(".lora_A.weight", StringComparison.Ordinal) ? (t.Name[..^".lora_A.weight".Length], true)
                : t.Name.EndsWith(".lora_B.weight", StringComparison.Ordinal) ? (t.Name[..^".lora_B.weight".Length], false)
                : throw Bad(weightsPath, t.Name, "not a LoRA weight (<module>.lora_A.weight or <module>.lora_B.weight); embeddings, DoRA magnitudes, biases and modules_to_save are not supported");
            if (!stem.StartsWith(prefix, StringComparison.Ordinal) || stem.Length == prefix.Length)
                throw Bad(weightsPath, t.Name, $"the name does not start with the prefix '{SafeText.Name(prefix)}' followed by a module name (--prefix sets it)");
            if (!parts.TryGetValue(stem, out var p)) stems.Add(stem);
            parts[stem] = isA ? (t, p.B) : (p.A, t);
        }
        if (stems.Count == 0) throw Bad(weightsPath, null, "holds no LoRA weights");

        var modules = new List<PeftModule>();
        foreach (var stem in stems)
        {
            var (a, b) = parts[stem];
            if (a is null || b is null)
                throw Bad(weightsPath, (a ?? b)!.Name, $"its {(a is null ? "lora_A" : "lora_B")} partner is missing");
            if (a.Shape.Length != 2 || b.Shape.Length != 2)
                throw Bad(weightsPath, a.Shape.Length != 2 ? a.Name : b.Name, $"shape mismatch: LoRA weights are 2-D, got lora_A {a.ShapeText} and lora_B {b.ShapeText}");
            if (a.Shape[0] != b.Shape[1])
                throw Bad(weightsPath, stem, $"shape mismatch: lora_A {a.ShapeText} is [r, in] and lora_B {b.ShapeText} is [out, r], so their r must agree");
            foreach (var t in new[] { a, b })
                if (!SafetensorsDTypes.IsReadableAsFloat(t.DType))
                    throw Bad(weightsPath, t.Name, $"dtype {SafetensorsDTypes.ToHeaderName(t.DType)} is not a float type");
            var module = ModulePath(stem);
            var r = checked((int)a.Shape[0]);
            var rankKey = PeftPatterns.FirstMatch(config.RankPattern.Select(p => p.Key), module);
            var configured = rankKey is null ? config.R : config.RankPattern.First(p => p.Key == rankKey).Value;
            if (configured != r)
                throw Bad(weightsPath, stem, $"shape mismatch: the weights have rank {r}, the config gives this module r = {configured} "
                                             + (rankKey is null ? "(the global r)" : $"(rank_pattern key '{SafeText.Name(rankKey)}')"));
            var loraA = file.ReadFloats(a.Name);
            var loraB = file.ReadFloats(b.Name);
            foreach (var (t, data) in new[] { (a, loraA), (b, loraB) })
                if (Array.FindIndex(data, v => !float.IsFinite(v)) is var i and >= 0)
                    throw Bad(weightsPath, t.Name, $"a non-finite value ({data[i]}) at element {i}");
            modules.Add(new PeftModule(stem, module, r, checked((int)a.Shape[1]), checked((int)b.Shape[0]), loraA, loraB));
        }

        foreach (var (field, keys) in new[] { ("rank_pattern", config.RankPattern.Select(p => p.Key)), ("alpha_pattern", config.AlphaPattern.Select(p => p.Key)) })
            foreach (var key in keys)
                if (!modules.Any(m => PeftPatterns.Matches(key, m.Module)))
                    throw Bad(configPath, null, $"{field} key '{SafeText.Name(key)}' matches no module of the adapter (PEFT's rule: re.match(r\"(.*\\.)?(key)$\", module))");
        return new PeftLora(config, modules);
    }

    private static InvalidDataException Bad(string path, string? tensor, string problem) =>
        new(tensor is null ? $"{SafeText.Line(path)}: {problem}" : $"{SafeText.Line(path)}: '{SafeText.Name(tensor)}': {problem}");
}
