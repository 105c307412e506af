// KrylovAccuracy.cs — the accuracy and CPU time of the truncated SVDs and the nuclear-norm estimate at LLM sizes, k = 256:
// the measurement behind Svd/README.md's table and the defaults of KrylovOptions. Writes bench/results/krylov-accuracy-<device>.md.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Sara.Native.Backends;
using Sara.Native.Svd;
using Sara.Native.Tensors;

namespace Sara.Bench.Init;

public static class KrylovAccuracy
{
    private const int K = 256;

    private sealed record Case(string Name, int M, int N, Func<float[]> Make, double[]? Known);

    public static int Run(string[] args)
    {
        var output = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault() ?? "bench/results";
        var seeds = int.Parse(args.SkipWhile(a => a != "--seeds").Skip(1).FirstOrDefault() ?? "2", CultureInfo.InvariantCulture);
        var wide = args.Contains("--with-11008");
        using var backend = Shapes.CreateBackend();
        var synthetic = new SyntheticCheckpoint(1);
        var cases = new List<Case>
        {
            new("s_i = i^-0.5", 4096, 4096, () => WithSpectrum(4096, 4096, Enumerable.Range(1, 4096).Select(i => Math.Pow(i, -0.5)).ToArray(), 21),
                Enumerable.Range(1, 4096).Select(i => Math.Pow(i, -0.5)).ToArray()),
            new("7B-shaped q_proj (head + bulk, as make-checkpoint)", 4096, 4096, () => synthetic.Matrix(backend, 4096, 4096, 7001), null),
        };
        if (wide) cases.Add(new("7B-shaped down_proj (head + bulk)", 4096, 11008, () => synthetic.Matrix(backend, 4096, 11008, 7006), null));
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
        var sb = new StringBuilder();
        sb.AppendLine($"# Truncated SVD and nuclear-norm estimate at LLM sizes (k = {K}) on {backend.Name}");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; {backend.Description}; load average at start {load}");
        sb.AppendLine("- command: `dotnet bench/Sara.Bench/bin/Release/net10.0/Sara.Bench.dll krylov-accuracy" + (wide ? " --with-11008" : "") + $" --seeds {seeds}`");
        sb.AppendLine("- values: worst relative error of s_1..s_{k/2} against the exact spectrum (known, or LAPACK sgesdd); energy: ||W V_k^T||_F^2 / sum_{i<=k} s_i^2;");
        sb.AppendLine("  total: relative error of the SumFraction total and the estimate's stated bound; k: the rank at tau = 0.2 (KMax = 256) against the exact path's;");
        sb.AppendLine("  CPU s: the process's CPU seconds for the SVD (+ estimate) — on a shared machine wall time is inflated by other work, CPU time much less so.");
        sb.AppendLine();
        sb.AppendLine("| matrix | method | seed | values k/2 | energy | total err (bound) | k vs exact | CPU s | wall s |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var c in cases)
        {
            Console.WriteLine($"{c.Name}: generating");
            var data = c.Make();
            using var w = backend.FromArray(data, c.M, c.N);
            var exact = c.Known ?? TruncatedSvd.ExactSingularValues(backend, w).Select(x => (double)x).ToArray();
            var exactTotal = exact.Sum();
            var exactK = RankPlanner.ChooseRank(exact.Select(x => (float)x).ToArray(), exactTotal, new RankOptions(), out _);
            var best = exact.Take(K).Sum(x => x * x);
            for (var seed = 1; seed <= seeds; seed++)
            {
                foreach (var (name, krylov) in Methods())
                {
                    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                    var wall = Stopwatch.StartNew();
                    float[] values;
                    Tensor b;
                    TotalEstimate? estimate = null;
                    if (krylov is null)
                    {
                        var svd = TruncatedSvd.Compute(backend, w, new SvdOptions(K, Oversampling: 16, PowerIterations: 2, Seed: seed));
                        values = svd.S;
                        b = svd.Vt;
                        svd.U.Dispose();
                    }
                    else
                    {
                        using var svd = KrylovSvd.Compute(backend, w, K, krylov, seed);
                        estimate = NuclearNorm.Estimate(backend, w, svd, krylov.Probes, krylov.LanczosSteps, seed + 100);
                        values = svd.Values;
                        var (a, vt) = svd.Factors(K);
                        a.Dispose();
                        b = vt;
                    }
                    var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
                    var wallSeconds = wall.Elapsed.TotalSeconds;
                    using (b)
                    using (var wv = backend.Empty(c.M, K))
                    {
                        backend.Gemm(w, false, b, true, wv);
                        var energy = wv.ToArray().Sum(x => (double)x * x) / best;
                        var half = Enumerable.Range(0, K / 2).Max(i => Math.Abs(values[i] - exact[i]) / exact[i]);
                        var total = estimate is null ? "-" : string.Create(CultureInfo.InvariantCulture,
                            $"{(estimate.Value - exactTotal) / exactTotal:+0.0E+0;-0.0E+0} ({estimate.RelativeBound:0.0E+0})");
                        var k = estimate is null ? "-" : $"{RankPlanner.ChooseRank(values[..K], estimate.Value, new RankOptions(), out _)} vs {exactK}";
                        var line = string.Create(CultureInfo.InvariantCulture,
                            $"| {c.M}x{c.N} {c.Name} | {name} | {seed} | {half:0.0E+0} | {energy:F4} | {total} | {k} | {cpuSeconds:F2} | {wallSeconds:F2} |");
                        Console.WriteLine(line);
                        sb.AppendLine(line);
                    }
                }
            }
        }
        Directory.CreateDirectory(output);
        var path = Path.Combine(output, $"krylov-accuracy-{backend.Name}.md");
        File.WriteAllText(path, sb.ToString());
        Console.WriteLine($"wrote {path}");
        return 0;
    }

    /// <summary>
    /// W = Q_U diag(s) Q_V^T, Q_U and Q_V products of four random Householder reflectors (dense, orthogonal, cheap at this
    /// size; LAPACK's ssyevd, which BenchData uses for Haar factors, cannot size its workspace at n = 4096 in float32).
    /// A Gaussian sketch is rotation invariant, so the accuracy depends on the spectrum only.
    /// </summary>
    private static float[] WithSpectrum(int m, int n, double[] s, int seed)
    {
        var rng = new Random(seed);
        var b = new double[(long)n * n];
        for (var i = 0; i < n; i++) b[(long)i * n + i] = 1;
        Reflect(b, n, n, rng);
        var w = new double[(long)m * n];
        for (var i = 0; i < Math.Min(m, s.Length); i++)
            for (var j = 0; j < n; j++) w[(long)i * n + j] = s[i] * b[(long)i * n + j];
        Reflect(w, m, n, rng);
        return Array.ConvertAll(w, x => (float)x);
    }

    private static void Reflect(double[] a, int rows, int cols, Random rng)
    {
        var proj = new double[cols];
        for (var h = 0; h < 4; h++)
        {
            var u = Enumerable.Range(0, rows).Select(_ => rng.NextDouble() - 0.5).ToArray();
            var norm = Math.Sqrt(u.Sum(x => x * x));
            Array.Clear(proj);
            for (var i = 0; i < rows; i++)
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(a.AsSpan(i * cols, cols), u[i] / norm, proj, proj);
            for (var i = 0; i < rows; i++)
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(proj, -2 * u[i] / norm, a.AsSpan(i * cols, cols), a.AsSpan(i * cols, cols));
        }
    }

    private static IEnumerable<(string, KrylovOptions?)> Methods() =>
    [
        ("subspace iteration, l = k + 16, 2 power iterations (the former default)", null),
        ("block Krylov, block 32, L = k + 128", new KrylovOptions { BlockSize = 32, Oversampling = 128 }),
        ("block Krylov, block 64, L = k + 256 (default)", new KrylovOptions()),
    ];
}
