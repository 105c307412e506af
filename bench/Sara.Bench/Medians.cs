// Medians.cs — median time (seconds) of every benchmark case, keyed "Method" or "Method|param=value|...".
using BenchmarkDotNet.Reports;

namespace Sara.Bench;

public sealed class Medians(Dictionary<string, double> seconds, Dictionary<string, double> minima)
{
    public static Medians From(IEnumerable<Summary> summaries)
    {
        var d = new Dictionary<string, double>();
        var lo = new Dictionary<string, double>();
        foreach (var s in summaries)
            foreach (var r in s.Reports)
            {
                if (r.ResultStatistics is null) continue;
                var key = Key(r.BenchmarkCase.Descriptor.WorkloadMethod.Name,
                    r.BenchmarkCase.Parameters.Items.Select(p => (p.Name, p.Value?.ToString() ?? "")).ToArray());
                d[key] = r.ResultStatistics.Median / 1e9;
                lo[key] = r.ResultStatistics.Min / 1e9;
            }
        return new Medians(d, lo);
    }

    public static string Key(string method, params (string Name, string Value)[] ps) =>
        string.Join("|", ps.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => $"{p.Name}={p.Value}").Prepend(method));

    public double? Get(string method, params (string Name, object Value)[] ps) =>
        seconds.TryGetValue(Key(method, ps.Select(p => (p.Name, p.Value.ToString() ?? "")).ToArray()), out var v) ? v : null;

    /// <summary>The fastest iteration: other load on the machine only ever adds time, so minima are the robust estimate.</summary>
    public double? Min(string method, params (string Name, object Value)[] ps) =>
        minima.TryGetValue(Key(method, ps.Select(p => (p.Name, p.Value.ToString() ?? "")).ToArray()), out var v) ? v : null;

    public int Count => seconds.Count;
}
