namespace Sara.Cli.Init;

/// <summary>
/// A deterministic split of the layers into N shares of about equal work (longest processing time first: layers by cost,
/// largest first, ties by index, each to the share with the least work so far, ties to the lowest share). The same
/// list and N always give the same shares, whichever machine computes them: how `--part i/N` and several devices
/// divide a checkpoint.
/// </summary>
internal static class WorkAssignment
{
    /// <summary>The indices of <paramref name="costs"/> in each of <paramref name="shares"/> shares, ascending within a share.</summary>
    public static List<int>[] Split(IReadOnlyList<long> costs, int shares)
    {
        ArgumentNullException.ThrowIfNull(costs);
        ArgumentOutOfRangeException.ThrowIfLessThan(shares, 1);
        var result = Enumerable.Range(0, shares).Select(_ => new List<int>()).ToArray();
        var load = new long[shares];
        foreach (var i in Enumerable.Range(0, costs.Count).OrderByDescending(i => costs[i]).ThenBy(i => i))
        {
            var target = 0;
            for (var s = 1; s < shares; s++)
                if (load[s] < load[target]) target = s;
            result[target].Add(i);
            load[target] += costs[i];
        }
        foreach (var r in result) r.Sort();
        return result;
    }

    /// <summary>"i/N" with 1 &lt;= i &lt;= N; null when malformed.</summary>
    public static (int Index, int Count)? ParsePart(string? text)
    {
        var parts = text?.Split('/') ?? [];
        if (parts.Length != 2) return null;
        if (!int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i)) return null;
        if (!int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n)) return null;
        return n >= 1 && i >= 1 && i <= n ? (i, n) : null;
    }
}
