// The tests' own reading of a PEFT LoRA folder and of what PEFT (or llama.cpp) computes from it, written from PEFT's
// documented formula and pattern rules, independent of Sara.Native.Peft (which it judges).
using System.Text.Json;
using System.Text.RegularExpressions;
using Sara.Native.IO;

namespace Sara.Tests.Peft;

/// <summary>
/// A saved LoRA as the tools that load it see it. Forward of module M on input x (T x in):
/// <c>y = scaling * (x lora_A^T) lora_B^T</c>. How scaling is found depends on the reader (<see cref="Rule"/>):
/// <list type="bullet">
/// <item><see cref="Rule.Current"/> (PEFT 0.15+): r = rank_pattern[first key k with re.match(rf"(.*\.)?({k})$", M)] or r;
/// alpha likewise from alpha_pattern, searched separately; scaling = alpha / r (alpha / sqrt(r) with use_rslora).</item>
/// <item><see cref="Rule.Legacy"/> (earlier PEFT): the first key of rank_pattern then alpha_pattern (one list) with
/// re.match(rf".*\.{k}$", M), looked up in both dictionaries.</item>
/// <item><see cref="Rule.LlamaCpp"/> (convert_lora_to_gguf.py): the global lora_alpha, r from lora_A's shape.</item>
/// <item><see cref="Rule.GlobalOnly"/> (vLLM's PEFTHelper): patterns ignored, one scaling lora_alpha / r from the global fields.</item>
/// </list>
/// Module names are the tensor keys without "base_model.model." and without ".lora_A.weight" / ".lora_B.weight".
/// </summary>
internal sealed class PeftReference
{
    public enum Rule { Current, Legacy, LlamaCpp, GlobalOnly }

    public sealed record Tensors(int R, int In, int Out, double[] A, double[] B);

    private readonly List<(string Key, int Value)> _rankPattern = new();
    private readonly List<(string Key, double Value)> _alphaPattern = new();

    public int R { get; private init; }
    public double Alpha { get; private init; }
    public bool UseRslora { get; private init; }
    public JsonElement Config { get; private init; }
    public Dictionary<string, Tensors> Modules { get; } = new(StringComparer.Ordinal);
    public List<string> Keys { get; } = new();

    public static PeftReference Load(string folder)
    {
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "adapter_config.json"))).RootElement.Clone();
        var reference = new PeftReference
        {
            Config = config,
            R = config.GetProperty("r").GetInt32(),
            Alpha = config.GetProperty("lora_alpha").GetDouble(),
            UseRslora = config.TryGetProperty("use_rslora", out var rs) && rs.GetBoolean(),
        };
        if (config.TryGetProperty("rank_pattern", out var rp))
            foreach (var p in rp.EnumerateObject()) reference._rankPattern.Add((p.Name, p.Value.GetInt32()));
        if (config.TryGetProperty("alpha_pattern", out var ap))
            foreach (var p in ap.EnumerateObject()) reference._alphaPattern.Add((p.Name, p.Value.GetDouble()));

        using var file = SafetensorsFile.Open(Path.Combine(folder, "adapter_model.safetensors"));
        foreach (var t in file.Tensors) reference.Keys.Add(t.Name);
        foreach (var key in reference.Keys.Where(k => k.EndsWith(".lora_A.weight", StringComparison.Ordinal)))
        {
            var stem = key[..^".lora_A.weight".Length];
            var a = file.GetInfo(key);
            var b = file.GetInfo(stem + ".lora_B.weight");
            var module = stem.StartsWith("base_model.model.", StringComparison.Ordinal) ? stem["base_model.model.".Length..] : stem;
            reference.Modules[module] = new Tensors((int)a.Shape[0], (int)a.Shape[1], (int)b.Shape[0],
                Array.ConvertAll(file.ReadFloats(key), v => (double)v), Array.ConvertAll(file.ReadFloats(b.Name), v => (double)v));
        }
        return reference;
    }

    /// <summary>Python's re.match(pattern, text): a match that starts at the first character.</summary>
    private static bool PyMatch(string pattern, string text)
    {
        var m = new Regex(pattern).Match(text);
        return m.Success && m.Index == 0;
    }

    public static bool CurrentRuleMatches(string key, string module) => PyMatch($"(.*\\.)?({key})$", module);

    public static bool LegacyRuleMatches(string key, string module) => PyMatch($".*\\.{key}$", module);

    /// <summary>r and alpha of <paramref name="module"/> as <paramref name="rule"/> resolves them, and the pattern key(s) used.</summary>
    public (int R, double Alpha, string? RankKey, string? AlphaKey) Settings(string module, Rule rule)
    {
        switch (rule)
        {
            case Rule.Current:
            {
                var rk = _rankPattern.Select(p => p.Key).FirstOrDefault(k => CurrentRuleMatches(k, module));
                var ak = _alphaPattern.Select(p => p.Key).FirstOrDefault(k => CurrentRuleMatches(k, module));
                return (rk is null ? R : _rankPattern.First(p => p.Key == rk).Value, ak is null ? Alpha : _alphaPattern.First(p => p.Key == ak).Value, rk, ak);
            }
            case Rule.Legacy:
            {
                var key = _rankPattern.Select(p => p.Key).Concat(_alphaPattern.Select(p => p.Key)).FirstOrDefault(k => LegacyRuleMatches(k, module));
                var r = _rankPattern.Where(p => p.Key == key).Select(p => (int?)p.Value).FirstOrDefault() ?? R;
                var alpha = _alphaPattern.Where(p => p.Key == key).Select(p => (double?)p.Value).FirstOrDefault() ?? Alpha;
                return (r, alpha, key, key);
            }
            case Rule.GlobalOnly:
                return (R, Alpha, null, null);
            default:
                return (Modules[module].R, Alpha, null, null);
        }
    }

    public double Scaling(string module, Rule rule)
    {
        var (r, alpha, _, _) = Settings(module, rule);
        return UseRslora ? alpha / Math.Sqrt(r) : alpha / r;
    }

    /// <summary>scaling * lora_B lora_A (out x in), float64.</summary>
    public double[] Update(string module, Rule rule)
    {
        var t = Modules[module];
        var s = Scaling(module, rule);
        var w = new double[t.Out * t.In];
        for (var o = 0; o < t.Out; o++)
            for (var c = 0; c < t.R; c++)
            {
                var bv = s * t.B[o * t.R + c];
                for (var i = 0; i < t.In; i++) w[o * t.In + i] += bv * t.A[c * t.In + i];
            }
        return w;
    }

    /// <summary>The LoRA forward term scaling * lora_B(lora_A(x)) for x (tokens x in), float64, tokens x out.</summary>
    public double[] Forward(string module, double[] x, int tokens, Rule rule)
    {
        var t = Modules[module];
        var s = Scaling(module, rule);
        var h = new double[tokens * t.R];
        for (var p = 0; p < tokens; p++)
            for (var c = 0; c < t.R; c++)
            {
                double acc = 0;
                for (var i = 0; i < t.In; i++) acc += x[p * t.In + i] * t.A[c * t.In + i];
                h[p * t.R + c] = acc;
            }
        var y = new double[tokens * t.Out];
        for (var p = 0; p < tokens; p++)
            for (var o = 0; o < t.Out; o++)
            {
                double acc = 0;
                for (var c = 0; c < t.R; c++) acc += h[p * t.R + c] * t.B[o * t.R + c];
                y[p * t.Out + o] = s * acc;
            }
        return y;
    }
}
