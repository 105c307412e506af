// PEFT's rank_pattern / alpha_pattern keys: how PEFT matches them to module names, and keys that match one module exactly.
using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using Sara.Native.IO;

namespace Sara.Native.Peft;

/// <summary>
/// A pattern key (a Python regular expression) applies to a module name (its path inside the base model, without
/// PEFT's <c>base_model.model.</c>) when <c>re.match(rf"(.*\.)?({key})$", name)</c> succeeds: PEFT 0.15 and later
/// (<c>peft.utils.other.get_pattern_key</c>); the first such key wins. Earlier versions used <c>re.match(rf".*\.{key}$", name)</c>
/// and looked the winning key up in both dictionaries. <see cref="KeyFor"/> writes keys that pick out exactly one
/// module under both rules.
/// </summary>
public static class PeftPatterns
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);
    private const int MaxCached = 4096;
    private static readonly ConcurrentDictionary<string, Regex> Compiled = new(StringComparer.Ordinal);

    /// <summary>The first of <paramref name="keys"/> that matches <paramref name="module"/> under PEFT's current rule, or null.</summary>
    public static string? FirstMatch(IEnumerable<string> keys, string module)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(module);
        return keys.FirstOrDefault(k => Matches(k, module));
    }

    /// <summary>Whether <paramref name="key"/> matches <paramref name="module"/> under PEFT's current rule.</summary>
    public static bool Matches(string key, string module)
    {
        try
        {
            return Compile(key).IsMatch(module);
        }
        catch (RegexMatchTimeoutException e)
        {
            throw new InvalidDataException($"pattern key '{SafeText.Name(key)}' took over {Timeout.TotalSeconds:0} s to match '{SafeText.Name(module)}'", e);
        }
    }

    /// <summary>
    /// The key as a .NET regex with Python's <c>re.match</c> anchoring (start of the name) around PEFT's wrapper, matched
    /// with a time limit. A key .NET cannot compile is an <see cref="ArgumentException"/> (see <see cref="Problem"/>).
    /// </summary>
    public static Regex Compile(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        // Every module is matched against every key: compile each key once (a model has a few hundred of each). Keys come
        // from files, so the cache is bounded: past MaxCached keys it starts over.
        if (Compiled.TryGetValue(key, out var cached)) return cached;
        var regex = new Regex($@"\A(?:(.*\.)?({key})$)", RegexOptions.CultureInvariant, Timeout);
        if (Compiled.Count >= MaxCached) Compiled.Clear();
        Compiled[key] = regex;
        return regex;
    }

    /// <summary>Why <paramref name="key"/> cannot be used as a pattern (it does not compile), or null.</summary>
    public static string? Problem(string key)
    {
        try
        {
            Compile(key);
            return null;
        }
        catch (ArgumentException e)
        {
            return e is RegexParseException p ? p.Error.ToString() : e.Message;
        }
    }

    /// <summary>
    /// A key that, under both PEFT rules, matches <paramref name="module"/> and none of the other <paramref name="modules"/>:
    /// the shortest suffix that starts after a dot and no other module ends with (regex characters escaped), e.g.
    /// <c>layers\.0\.self_attn\.q_proj</c>; failing that (a name without a dot, or one whose every suffix another name
    /// shares), <c>(?!)|^name</c>, whose first branch never matches and whose second matches the whole name under both rules
    /// (the old rule's regex <c>.*\.(?!)|^name$</c> splits at the bar).
    /// </summary>
    public static string KeyFor(string module, IReadOnlyCollection<string> modules)
    {
        ArgumentException.ThrowIfNullOrEmpty(module);
        ArgumentNullException.ThrowIfNull(modules);
        for (var dot = module.LastIndexOf('.'); dot > 0; dot = module.LastIndexOf('.', dot - 1))
        {
            var suffix = module[(dot + 1)..];
            if (suffix.Length > 0 && !modules.Any(o => o != module && (o == suffix || o.EndsWith("." + suffix, StringComparison.Ordinal))))
                return Escape(suffix);
        }
        return "(?!)|^" + Escape(module);
    }

    /// <summary>Backslash before every character that is special in a Python (or .NET) regular expression.</summary>
    public static string Escape(string text)
    {
        var sb = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            if (@"\.^$*+?{}[]|()".Contains(c)) sb.Append('\\');
            sb.Append(c);
        }
        return sb.ToString();
    }
}
