// A name pattern for weight selection: a glob ('*' any run of characters, '?' one) or a regex ("re:" prefix).
using System.Text.RegularExpressions;
using Rx = System.Text.RegularExpressions.Regex;

namespace Sara.Native.IO;

/// <summary>Matches whole tensor names. Globs are anchored; regexes match anywhere unless anchored.</summary>
public sealed class WeightPattern
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);
    private readonly Rx _regex;

    /// <summary>The pattern as given (with "re:" for a regex).</summary>
    public string Text { get; }

    private WeightPattern(string text, Rx regex)
    {
        Text = text;
        _regex = regex;
    }

    /// <summary>A glob over the whole name: '*' matches any characters (dots included), '?' exactly one.</summary>
    public static WeightPattern Glob(string glob)
    {
        ArgumentException.ThrowIfNullOrEmpty(glob);
        string body = Rx.Escape(glob).Replace(@"\*", ".*").Replace(@"\?", ".");
        return new WeightPattern(glob, new Rx($"^(?:{body})$", RegexOptions.CultureInvariant | RegexOptions.Singleline, Timeout));
    }

    /// <summary>A .NET regular expression, searched in the name (use ^...$ to match it whole).</summary>
    public static WeightPattern Regex(string pattern)
    {
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        try
        {
            return new WeightPattern("re:" + pattern, new Rx(pattern, RegexOptions.CultureInvariant, Timeout));
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"'{pattern}' is not a valid regular expression: {e.Message}", nameof(pattern), e);
        }
    }

    /// <summary>"re:..." is a regex, anything else a glob.</summary>
    public static WeightPattern Parse(string text)
    {
        ArgumentException.ThrowIfNullOrEmpty(text);
        return text.StartsWith("re:", StringComparison.Ordinal) ? Regex(text[3..]) : Glob(text);
    }

    public bool IsMatch(string name) => _regex.IsMatch(name);

    public override string ToString() => Text;
}
