// PairedRatios.cs — ratios robust to other load on a shared machine: the compared cases run back to back in rotating
// order, round after round, and the ratio is the median over rounds of (case / reference) within one round. Slow drifts
// of the machine's load then cancel in each ratio instead of landing on one side of it (as separate BenchmarkDotNet
// cases, minutes apart, can). Same code paths as the BenchmarkDotNet methods.
using System.Diagnostics;

namespace Sara.Bench;

public sealed class PairedRatios
{
    private readonly Dictionary<string, double> _ratios = new();

    public int Rounds { get; private init; }

    /// <summary>The ratios measured per layer shape: adapter / dense in float32 and with a bf16 W0, and bf16 / float32 of each layer.</summary>
    public static readonly (string Num, string Den)[] Pairs =
    [
        ("SaraForward", "DenseForward"), ("MoSaraForward", "DenseForward"), ("SaraForwardBackward", "DenseForwardBackward"),
        ("MoSaraForwardBackward", "DenseForwardBackward"), ("SaraForwardBf16", "DenseForwardBf16"),
        ("SaraForwardBackwardBf16", "DenseForwardBackwardBf16"), ("MoSaraForwardBackwardBf16", "DenseForwardBackwardBf16"),
        ("DenseForwardBf16", "DenseForward"), ("DenseForwardBackwardBf16", "DenseForwardBackward"),
        ("SaraForwardBackwardBf16", "SaraForwardBackward"),
    ];

    public double? Get(string numerator, string denominator, object param) =>
        _ratios.TryGetValue($"{numerator}/{denominator}|{param}", out var r) ? r : null;

    /// <summary>
    /// What each round times: the wall clock (default), or with cpuClock the process's CPU time, which other load on the
    /// machine barely moves (meaningful when one thread does the work: OPENBLAS_NUM_THREADS=1 and no AVX-512 kernel threads,
    /// since spinning helper threads count too).
    /// </summary>
    public bool CpuClock { get; private init; }

    public static PairedRatios Measure(int rounds, bool layers, bool svd, bool cpuClock = false)
    {
        var result = new PairedRatios { Rounds = rounds, CpuClock = cpuClock };
        if (layers)
            foreach (var s in Shapes.Layers)
            {
                var b = new LayerBenchmarks { Shape = s };
                b.Setup();
                try
                {
                    var times = Rotate(rounds, cpuClock, [("DenseForward", b.DenseForward), ("SaraForward", b.SaraForward), ("MoSaraForward", b.MoSaraForward),
                        ("DenseForwardBackward", b.DenseForwardBackward), ("SaraForwardBackward", b.SaraForwardBackward),
                        ("MoSaraForwardBackward", b.MoSaraForwardBackward), ("DenseForwardBf16", b.DenseForwardBf16),
                        ("SaraForwardBf16", b.SaraForwardBf16), ("DenseForwardBackwardBf16", b.DenseForwardBackwardBf16),
                        ("SaraForwardBackwardBf16", b.SaraForwardBackwardBf16), ("MoSaraForwardBackwardBf16", b.MoSaraForwardBackwardBf16)]);
                    foreach (var (num, den) in Pairs)
                        result._ratios[$"{num}/{den}|{s}"] = MedianRatio(times[num], times[den]);
                }
                finally { b.Cleanup(); }
            }
        if (svd)
            foreach (var n in Shapes.SvdN)
                foreach (var k in Shapes.SvdK)
                {
                    var tr = new TruncatedSvdBenchmarks { N = n, K = k };
                    var ex = new ExactSvdBenchmarks { N = n };
                    tr.Setup();
                    ex.Setup();
                    try
                    {
                        var times = Rotate(rounds, cpuClock, [("Truncated", tr.Truncated), ("Exact", () => ex.Exact())]);
                        result._ratios[$"Truncated/Exact|n{n}_k{k}"] = MedianRatio(times["Truncated"], times["Exact"]);
                    }
                    finally
                    {
                        tr.Cleanup();
                        ex.Cleanup();
                    }
                }
        return result;
    }

    private static Dictionary<string, double[]> Rotate(int rounds, bool cpuClock, (string Name, Action Run)[] cases)
    {
        foreach (var c in cases) c.Run();   // warm-up
        var times = cases.ToDictionary(c => c.Name, _ => new double[rounds]);
        var process = Process.GetCurrentProcess();
        double Now()
        {
            if (!cpuClock) return Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;
            process.Refresh();
            return process.TotalProcessorTime.TotalSeconds;
        }
        for (var r = 0; r < rounds; r++)
            for (var j = 0; j < cases.Length; j++)
            {
                var c = cases[(j + r) % cases.Length];
                var start = Now();
                c.Run();
                times[c.Name][r] = Now() - start;
            }
        return times;
    }

    private static double MedianRatio(double[] num, double[] den)
    {
        var r = num.Zip(den, (a, b) => a / b).Order().ToArray();
        return r.Length % 2 == 1 ? r[r.Length / 2] : (r[r.Length / 2 - 1] + r[r.Length / 2]) / 2;
    }
}
