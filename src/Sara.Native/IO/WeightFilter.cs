// Include/exclude selection of weights by name patterns.
namespace Sara.Native.IO;

/// <summary>
/// A name is selected when it matches some include pattern (or there are none) and no exclude pattern.
/// Patterns are globs, or regexes with the "re:" prefix (see <see cref="WeightPattern.Parse"/>).
/// </summary>
public sealed class WeightFilter
{
    /// <summary>Selects every name.</summary>
    public static WeightFilter All { get; } = new();

    public IReadOnlyList<WeightPattern> Include { get; }
    public IReadOnlyList<WeightPattern> Exclude { get; }

    public WeightFilter(IEnumerable<WeightPattern>? include = null, IEnumerable<WeightPattern>? exclude = null)
    {
        Include = include?.ToArray() ?? Array.Empty<WeightPattern>();
        Exclude = exclude?.ToArray() ?? Array.Empty<WeightPattern>();
    }

    /// <summary>Builds a filter from pattern strings ("re:" prefix for regex, else glob).</summary>
    public static WeightFilter Parse(IEnumerable<string>? include = null, IEnumerable<string>? exclude = null) =>
        new(include?.Select(WeightPattern.Parse), exclude?.Select(WeightPattern.Parse));

    public bool IsMatch(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return (Include.Count == 0 || Include.Any(p => p.IsMatch(name))) && !Exclude.Any(p => p.IsMatch(name));
    }

    /// <summary>For a tensor known under several names (an ONNX weight's module name and its stored name): some name is
    /// included (or there are no include patterns) and no name is excluded.</summary>
    public bool IsMatchAny(IReadOnlyCollection<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        return (Include.Count == 0 || names.Any(n => Include.Any(p => p.IsMatch(n)))) && !names.Any(n => Exclude.Any(p => p.IsMatch(n)));
    }
}
