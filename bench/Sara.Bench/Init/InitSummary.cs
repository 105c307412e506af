// InitSummary.cs — turns the log of a `sara init` run on the synthetic checkpoint into bench/results/init-7b-*.md.
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Sara.Bench.Init;

/// <summary>
/// Per-shape medians of the per-layer wall seconds (read + SVD + plan + write), the read and the CPU seconds, against the
/// issue's targets, and the whole run's wall time and peak RSS as `sara init` printed them.
/// </summary>
public static partial class InitSummary
{
    [GeneratedRegex(@"^\[(\d+)/(\d+)\] (\S+) (\d+)x(\d+) k=(\d+) reached ([\d.]+) total (\S+) ([\d.]+) s \(read ([\d.]+) s(?:, cpu ([\d.]+) s)?(?:, 1/\d+ of a batch)?, (\S+)\)")]
    private static partial Regex LayerLine();

    [GeneratedRegex(@"^([\d.]+) s, peak RSS ([\d.]+) GB")]
    private static partial Regex LastLine();

    private sealed record Row(string Layer, int M, int N, int K, double Reached, string Total, double Seconds, double Read, double Cpu);

    public static int Run(string[] args)
    {
        string Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? throw new ArgumentException($"{name} is required");
        var log = File.ReadAllLines(Arg("--log"));
        var rows = new List<Row>();
        foreach (var line in log)
        {
            var m = LayerLine().Match(line);
            if (!m.Success) continue;
            double D(int g) => m.Groups[g].Success ? double.Parse(m.Groups[g].Value, CultureInfo.InvariantCulture) : double.NaN;
            rows.Add(new Row(m.Groups[3].Value, (int)D(4), (int)D(5), (int)D(6), D(7), m.Groups[8].Value, D(9), D(10), D(11)));
        }
        if (rows.Count == 0) throw new InvalidDataException("no layer lines in the log");
        var last = log.Select(l => LastLine().Match(l)).LastOrDefault(x => x.Success) ?? throw new InvalidDataException("no summary line in the log");
        var wall = double.Parse(last.Groups[1].Value, CultureInfo.InvariantCulture);
        var rss = double.Parse(last.Groups[2].Value, CultureInfo.InvariantCulture);
        var blocks = int.Parse(Arg("--blocks"), CultureInfo.InvariantCulture);

        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"# `sara init` on a {blocks}-block Llama-2-7B-shaped bf16 checkpoint");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; machine: {Arg("--machine")}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- load average (1, 5, 15 min) before / after: {Arg("--load")}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- checkpoint: {blocks} blocks ({rows.Count} matrices selected), {Arg("--disk")} on disk (written by `make-checkpoint` just before, so largely in the page cache)");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- command: `{Arg("--command")}`");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- whole run: {wall:F1} s wall, peak RSS {rss:F2} GB (target for 32 blocks: <= 480 s, <= 3 GB)");
        sb.AppendLine();
        sb.AppendLine("Per matrix (plan + factors, bf16 read included): wall seconds from the first byte read to the layer's file written; CPU = the process's CPU seconds over the same span (2 cores: an unloaded machine gives wall ~ CPU / 2 for the GEMM-bound part).");
        sb.AppendLine();
        sb.AppendLine("| shape | layers | k (min..max) | wall median s | wall max s | read median s | CPU median s | target s |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        var medians = new Dictionary<(int, int), double>();
        foreach (var g in rows.GroupBy(r => (r.M, r.N)).OrderBy(g => (long)g.Key.M * g.Key.N).ThenBy(g => g.Key.M))
        {
            double Med(Func<Row, double> f) => Median(g.Select(f).ToList());
            medians[g.Key] = Med(r => r.Seconds);
            var target = (long)g.Key.M * g.Key.N <= 4096L * 4096 ? "1.0" : "2.5";
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {g.Key.M}x{g.Key.N} | {g.Count()} | {g.Min(r => r.K)}..{g.Max(r => r.K)} | {Med(r => r.Seconds):F2} | {g.Max(r => r.Seconds):F2} | {Med(r => r.Read):F2} | {Med(r => r.Cpu):F2} | {target} |");
        }
        var perBlock = rows.GroupBy(r => r.Layer.Split(".self_attn.")[0].Split(".mlp.")[0]).Select(g => g.Sum(r => r.Seconds)).ToList();
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture,
            $"Per block (7 matrices): median {Median(perBlock):F1} s, so 32 blocks would take about {32 * Median(perBlock) / 60:F1} min at this load (target 8 min); " +
            $"the assembly of the adapter and the model's start add {wall - rows.Sum(r => r.Seconds):F1} s here.");
        sb.AppendLine();
        sb.AppendLine("The layers, as `sara init` printed them:");
        sb.AppendLine();
        sb.AppendLine("```");
        foreach (var line in log) sb.AppendLine(line);
        sb.AppendLine("```");
        var output = Arg("--out");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        File.WriteAllText(output, sb.ToString());
        Console.WriteLine($"wrote {output}");
        return 0;
    }

    internal static double Median(List<double> values)
    {
        values.Sort();
        return values.Count == 0 ? double.NaN : values.Count % 2 == 1 ? values[values.Count / 2] : 0.5 * (values[values.Count / 2 - 1] + values[values.Count / 2]);
    }
}
