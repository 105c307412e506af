// SARA adapter -> PEFT LoRA with the same update, no rank doubling (DESIGN 3.3).
using Sara.Native.IO;

namespace Sara.Native.Peft;

/// <summary>How <see cref="PeftExporter.FromSara"/> writes the LoRA.</summary>
public sealed record PeftExportOptions
{
    /// <summary>
    /// For tools that read one global lora_alpha and take each module's rank from its tensors (llama.cpp's
    /// convert_lora_to_gguf.py): no patterns, and each module's lora_A carries k / alpha so that alpha / k cancels.
    /// PEFT itself loads such a file only when every module has rank r.
    /// </summary>
    public bool Portable { get; init; }

    /// <summary>Put before each module name in the tensor keys (PEFT's <c>base_model.model.</c> by default).</summary>
    public string Prefix { get; init; } = PeftLoraConfig.DefaultPrefix;

    /// <summary>Written as base_model_name_or_path (null when unknown).</summary>
    public string? BaseModelNameOrPath { get; init; }
}

/// <summary>
/// Writes a SARA adapter's update <c>s A diag(lambda) B</c> as a PEFT LoRA without approximation:
/// <c>lora_B = A</c> <c>[m, k]</c>, <c>lora_A = diag(c s lambda) B</c> <c>[k, n]</c> (computed in float64, rounded once
/// to float32), r = k per module. Default: <c>rank_pattern</c> and <c>alpha_pattern</c> give every module alpha = r = k,
/// so PEFT's scaling is 1 and c = 1 (PEFT's own convention in convert_to_lora); the global r and lora_alpha are the most
/// common k. Portable: one global lora_alpha (the most common k) and c = k / alpha. Module names are the adapter's layer
/// names (a trailing ".weight" dropped) after <see cref="PeftExportOptions.Prefix"/>. Mo-SARA is refused.
/// </summary>
public static class PeftExporter
{
    /// <summary>Why a Mo-SARA adapter cannot be written as a LoRA.</summary>
    public const string MoSaraReason = "its singular-value scaling depends on each token through the router gates, while a LoRA adds one "
                                       + "fixed low-rank matrix; only SARA adapters export";

    public static PeftLora FromSara(AdapterFile adapter, PeftExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        options ??= new PeftExportOptions();
        if (adapter.Metadata.Method == AdapterMethod.MoSara)
            throw new NotSupportedException("a Mo-SARA adapter has no PEFT LoRA equivalent: " + MoSaraReason);
        if (adapter.Layers.Count == 0) throw new ArgumentException("the adapter has no layers", nameof(adapter));

        var stems = adapter.Layers.Select(l => options.Prefix + ModuleName(l.Name)).ToList();
        var modules = stems.Select(PeftLora.ModulePath).ToList();
        var duplicate = modules.GroupBy(m => m).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ArgumentException($"two layers map to the module '{SafeText.Name(duplicate.Key)}' (a layer named both 'x' and 'x.weight'?)", nameof(adapter));

        // The most common rank (the smaller on a tie) becomes the global r and alpha.
        var r = adapter.Layers.GroupBy(l => l.K).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
        double alpha = r;
        var s = adapter.Metadata.Scale;
        var exported = new List<PeftModule>();
        for (var i = 0; i < adapter.Layers.Count; i++)
        {
            var l = adapter.Layers[i];
            var c = options.Portable ? l.K / alpha : 1.0;
            var lambda = l.Tensors["lambda"].Data;
            var b = l.Tensors["B"].Data;
            foreach (var (key, t) in l.Tensors)
                if (Array.FindIndex(t.Data, v => !float.IsFinite(v)) is var bad and >= 0)
                    throw new InvalidDataException($"adapter tensor '{SafeText.Name(l.Name)}.{key}' holds a non-finite value ({t.Data[bad]}) at element {bad}: refused, nothing written");
            var loraA = new float[l.K * l.N];
            for (var row = 0; row < l.K; row++)
            {
                var f = c * s * lambda[row];
                for (var col = 0; col < l.N; col++) loraA[row * l.N + col] = (float)(f * b[row * l.N + col]);
            }
            if (Array.FindIndex(loraA, v => !float.IsFinite(v)) is var overflow and >= 0)
                throw new InvalidDataException($"layer '{SafeText.Name(l.Name)}': lora_A = diag(s lambda) B overflows float32 at element {overflow} (scale {s}, "
                                               + $"largest |lambda| {lambda.Max(MathF.Abs)}): refused, nothing written");
            exported.Add(new PeftModule(stems[i], modules[i], l.K, l.N, l.M, loraA, (float[])l.Tensors["A"].Data.Clone()));
        }

        var keys = modules.Select(m => PeftPatterns.KeyFor(m, modules)).ToList();
        var config = new PeftLoraConfig
        {
            R = r,
            LoraAlpha = alpha,
            TargetModules = modules.Order(StringComparer.Ordinal).ToList(),
            RankPattern = options.Portable ? [] : keys.Select((k, i) => new KeyValuePair<string, int>(k, exported[i].R)).ToList(),
            AlphaPattern = options.Portable ? [] : keys.Select((k, i) => new KeyValuePair<string, double>(k, exported[i].R)).ToList(),
            BaseModelNameOrPath = options.BaseModelNameOrPath,
        };
        return new PeftLora(config, exported);
    }

    /// <summary>A layer name as a module name: PEFT names modules, not their ".weight" tensors.</summary>
    public static string ModuleName(string layer) =>
        layer.EndsWith(".weight", StringComparison.Ordinal) && layer.Length > ".weight".Length ? layer[..^".weight".Length] : layer;
}
