// Medians.cs — median time (seconds) of every benchmark case, keyed "Method" or "Method|param=value|...".
using BenchmarkDotNet.Reports;

namespace Sara.Bench;

public sealed class Medians(Dictionary<string, double> seconds)
{
    public static Medians From(IEnumerable<Summary> summaries)
    {
        var d = new Dictionary<string, double>();
        foreach (var s in summaries)
            foreach (var r in s.Reports)
            {
                if (r.ResultStatistics is null) continue;
                d[Key(r.BenchmarkCase.Descriptor.WorkloadMethod.Name,
                    r.BenchmarkCase.Parameters.Items.Select(p => (p.Name, p.Value?.ToString() ?? "")).ToArray())] = r.ResultStatistics.Median / 1e9;
            }
        return new Medians(d);
    }

    public static string Key(string method, params (string Name, string Value)[] ps) =>
        string.Join("|", ps.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => $"{p.Name}={p.Value}").Prepend(method));

    public double? Get(string method, params (string Name, object Value)[] ps) =>
        seconds.TryGetValue(Key(method, ps.Select(p => (p.Name, p.Value.ToString() ?? "")).ToArray()), out var v) ? v : null;

    public int Count => seconds.Count;
}
