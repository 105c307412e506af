// Which modules get an adapter, as PEFT's LoraConfig(target_modules=..., exclude_modules=...) decides.
using System.Text.RegularExpressions;

namespace Sara.Native.IO;

/// <summary>
/// PEFT-style module targeting over a checkpoint's weight matrices (<see cref="WeightMatrix.Module"/>):
/// <list type="bullet">
/// <item><see cref="Targets"/> empty: every matrix; else a module is targeted when its name equals a target or ends
/// with "." + target (PEFT's list semantics: "q_proj" matches "model.layers.0.self_attn.q_proj"), or, for a target
/// written "re:PATTERN", when the pattern matches the whole name (PEFT's string semantics, re.fullmatch).</item>
/// <item><see cref="AllLinear"/> ("all-linear"): every 2-D weight used as a linear layer (not convolutions, not
/// embedding tables), except the output head.</item>
/// <item><see cref="Excludes"/>: the same matching; an excluded module is never adapted.</item>
/// <item>Without explicit targets, embeddings and output heads are left out (<see cref="DefaultExclusion"/>); naming
/// them in <see cref="Targets"/> adapts them.</item>
/// </list>
/// </summary>
public sealed class ModuleTargets
{
    public const string AllLinearKeyword = "all-linear";
    private static readonly TimeSpan RegexTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Every matrix except embeddings and output heads.</summary>
    public static ModuleTargets Default { get; } = new([], false, []);

    private readonly Matcher[] _targets, _excludes;

    private ModuleTargets(IReadOnlyList<string> targets, bool allLinear, IReadOnlyList<string> excludes)
    {
        Targets = targets;
        AllLinear = allLinear;
        Excludes = excludes;
        _targets = targets.Select(Matcher.Parse).ToArray();
        _excludes = excludes.Select(Matcher.Parse).ToArray();
    }

    public IReadOnlyList<string> Targets { get; }
    public bool AllLinear { get; }
    public IReadOnlyList<string> Excludes { get; }

    /// <summary>
    /// From the option values: comma-separated lists (repeating an option adds to it); "all-linear" alone as the
    /// targets; "re:PATTERN" for a regular expression. A bad pattern or an empty name is an ArgumentException.
    /// </summary>
    public static ModuleTargets Parse(IEnumerable<string>? targets, IEnumerable<string>? excludes)
    {
        var t = Split(targets);
        var e = Split(excludes);
        var allLinear = t.Contains(AllLinearKeyword);
        if (allLinear && t.Count > 1)
            throw new ArgumentException($"'{AllLinearKeyword}' cannot be combined with other target modules ({string.Join(", ", t.Where(x => x != AllLinearKeyword))})", nameof(targets));
        return new ModuleTargets(allLinear ? [] : t, allLinear, e);
    }

    private static List<string> Split(IEnumerable<string>? values)
    {
        var list = new List<string>();
        foreach (var v in values ?? [])
            foreach (var part in v.Split(',', StringSplitOptions.TrimEntries))
            {
                if (part.Length == 0) throw new ArgumentException($"empty module name in '{v}'", nameof(values));
                if (!list.Contains(part)) list.Add(part);
            }
        return list;
    }

    /// <summary>Why <paramref name="matrix"/> gets no adapter, or null when it is targeted.</summary>
    public string? SkipReason(WeightMatrix matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var module = matrix.Module;
        if (_excludes.FirstOrDefault(x => x.IsMatch(module)) is { } ex) return $"excluded by --exclude-modules {ex.Text}";
        if (_targets.Length > 0)
            return _targets.Any(x => x.IsMatch(module)) ? null : "not in --target-modules";
        var exclusion = DefaultExclusion(matrix);
        if (AllLinear)
        {
            if (matrix.Layout == WeightLayout.Conv) return "a convolution (all-linear takes linear layers)";
            if (exclusion is not null) return exclusion;
            return null;
        }
        return exclusion;
    }

    /// <summary>
    /// "embedding (excluded by default)" for embedding tables (an ONNX Gather reads it, or the module's last name holds
    /// "embed" or is wte, wpe or shared), "output head (excluded by default)" for lm_head, embed_out and a top-level
    /// "output"; else null.
    /// </summary>
    public static string? DefaultExclusion(WeightMatrix matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var module = matrix.Module;
        var last = module[(module.LastIndexOf('.') + 1)..].ToLowerInvariant();
        if (last is "lm_head" or "embed_out" || module == "output") return "output head (excluded by default)";
        if (matrix.IsEmbeddingTable || last.Contains("embed", StringComparison.Ordinal) || last is "wte" or "wpe" or "shared")
            return "embedding (excluded by default)";
        return null;
    }

    /// <summary>The options that reproduce this selection, for messages and metadata.</summary>
    public override string ToString()
    {
        var parts = new List<string>();
        if (AllLinear) parts.Add($"--target-modules {AllLinearKeyword}");
        else if (Targets.Count > 0) parts.Add($"--target-modules {string.Join(',', Targets)}");
        if (Excludes.Count > 0) parts.Add($"--exclude-modules {string.Join(',', Excludes)}");
        return parts.Count == 0 ? "all modules but embeddings and output heads" : string.Join(' ', parts);
    }

    private sealed class Matcher(string text, Regex? regex)
    {
        public string Text { get; } = text;

        public static Matcher Parse(string text)
        {
            if (!text.StartsWith("re:", StringComparison.Ordinal)) return new Matcher(text, null);
            try
            {
                return new Matcher(text, new Regex($"^(?:{text[3..]})$", RegexOptions.CultureInvariant, RegexTimeout));
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"'{text[3..]}' is not a valid regular expression: {e.Message}", nameof(text), e);
            }
        }

        public bool IsMatch(string module) => regex?.IsMatch(module)
            ?? (module == Text || module.EndsWith("." + Text, StringComparison.Ordinal));
    }
}
