// InitTiming.cs — paired per-matrix timing of `sara init`'s work against two baselines measured in the same rounds:
// the exact full-spectrum plan (the former default of `sara analyze`) and a 4096^3 sgemm (a yardstick of the machine's
// GEMM rate, so a loaded run can be scaled to a quiet one). Writes bench/results/init-timing-<device>.md.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Sara.Native.Backends;
using Sara.Native.IO;
using Sara.Native.Svd;
using Sara.Native.Tensors;

namespace Sara.Bench.Init;

/// <summary>
/// Per shape and round, in this order: (1) init = bf16 decode of the matrix + RankPlanner.Factorize with the default
/// options (block Krylov SVD, nuclear-norm estimate, rank, A = U_k and B = V_k^T copied to the host) — what `sara init`
/// does per layer, less the layer file's write; (2) exact = the same decode + RankPlanner.ForMatrix with
/// SpectrumMode.Exact (all singular values from LAPACK, no factors); (3) sgemm = one 4096 x 4096 x 4096 GEMM. Each
/// round's ratios init/exact and init/sgemm are paired (taken seconds apart, so under the same load); the table gives
/// their medians. On a loaded machine the wall seconds are inflated but the ratios much less: quiet init seconds ~
/// (init/sgemm ratio) x (quiet sgemm seconds).
/// </summary>
public static class InitTiming
{
    public static int Run(string[] args)
    {
        var output = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault() ?? "bench/results";
        var rounds = int.Parse(args.SkipWhile(a => a != "--rounds").Skip(1).FirstOrDefault() ?? "3", CultureInfo.InvariantCulture);
        var noExact = args.Contains("--no-exact");
        using var backend = Shapes.CreateBackend();
        var synthetic = new SyntheticCheckpoint(1);
        (string Name, int M, int N, int Seed)[] shapes =
        [
            ("model.layers.0.self_attn.q_proj", 4096, 4096, 7001),
            ("model.layers.0.mlp.down_proj", 4096, 11008, 7006),
            ("model.layers.0.mlp.gate_proj", 11008, 4096, 7004),
        ];
        var uptime = Uptime();
        var sb = new StringBuilder();
        sb.AppendLine($"# `sara init` per matrix, paired with the exact plan and a 4096^3 sgemm, on {backend.Name}");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; {backend.Description}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- uptime at start: {uptime}");
        sb.AppendLine("- command: `dotnet bench/Sara.Bench/bin/Release/net10.0/Sara.Bench.dll init-timing" +
                      string.Create(CultureInfo.InvariantCulture, $" --rounds {rounds}") + (noExact ? " --no-exact" : "") + "`");
        sb.AppendLine("- init: bf16 decode + block Krylov SVD + nuclear-norm estimate + rank + A, B to the host (default options, what `sara init` does per layer less the file write);");
        sb.AppendLine("  exact: bf16 decode + the full spectrum from LAPACK (`--exact`, the former default of `sara analyze`), no factors; sgemm: 4096 x 4096 x 4096.");
        sb.AppendLine("  Medians over the rounds; ratios are per round (the three measured back to back), then the median. Targets: 4096x4096 <= 1.0 s, 4096x11008 <= 2.5 s.");
        sb.AppendLine();
        sb.AppendLine("| shape | k | init wall s | init CPU s | exact wall s | sgemm wall s | init / exact | init / sgemm | target s |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|");

        using var a = backend.FromArray(SeededGaussian.Normal(4096L * 4096, 1, 21), 4096, 4096);
        using var b = backend.FromArray(SeededGaussian.Normal(4096L * 4096, 1, 22), 4096, 4096);
        using var c = backend.Empty(4096, 4096);
        double Sgemm()
        {
            var clock = Stopwatch.StartNew();
            backend.Gemm(a, false, b, false, c);
            backend.Synchronize();
            return clock.Elapsed.TotalSeconds;
        }
        Sgemm();   // warm-up: OpenBLAS threads, the GPU's handles

        foreach (var (name, m, n, seed) in shapes)
        {
            Console.WriteLine($"{name} {m}x{n}: generating");
            var values = synthetic.Matrix(backend, m, n, seed);
            var bf16 = new byte[values.LongLength * 2];
            FloatConversions.Encode(SafetensorsDType.BF16, values, bf16);
            var staging = new float[values.Length];
            var init = new List<double>();
            var initCpu = new List<double>();
            var exact = new List<double>();
            var gemm = new List<double>();
            var k = 0;
            for (var round = 0; round < rounds; round++)
            {
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                using (var w = Decode(backend, bf16, staging, m, n))
                using (var f = RankPlanner.Factorize(backend, name, w, new RankOptions()))
                {
                    f.A.ToArray();
                    f.B.ToArray();
                    k = f.Rank.K;
                }
                init.Add(clock.Elapsed.TotalSeconds);
                initCpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds);
                if (!noExact)
                {
                    clock.Restart();
                    using (var w = Decode(backend, bf16, staging, m, n))
                        RankPlanner.ForMatrix(backend, name, w, new RankOptions { Spectrum = SpectrumMode.Exact });
                    exact.Add(clock.Elapsed.TotalSeconds);
                }
                gemm.Add(Sgemm());
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  round {round + 1}: init {init[^1]:F2} s (CPU {initCpu[^1]:F2} s), exact {(noExact ? "-" : exact[^1].ToString("F2", CultureInfo.InvariantCulture))} s, sgemm {gemm[^1]:F2} s; load {Load()}"));
            }
            var toExact = noExact ? "-" : string.Create(CultureInfo.InvariantCulture, $"{Median(init.Zip(exact, (x, y) => x / y)):F3}");
            var target = (long)m * n <= 4096L * 4096 ? "1.0" : "2.5";
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {m}x{n} | {k} | {Median(init):F2} | {Median(initCpu):F2} | {(noExact ? "-" : Median(exact).ToString("F2", CultureInfo.InvariantCulture))} | {Median(gemm):F2} | {toExact} | {Median(init.Zip(gemm, (x, y) => x / y)):F2} | {target} |"));
        }
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"uptime at the end: {Uptime()}");
        Directory.CreateDirectory(output);
        var path = Path.Combine(output, $"init-timing-{backend.Name}.md");
        File.WriteAllText(path, sb.ToString());
        Console.Write(sb.ToString());
        Console.WriteLine($"wrote {path}");
        return 0;
    }

    /// <summary>The layer as `sara init` reads it: bf16 bytes decoded into a staging buffer, then uploaded.</summary>
    private static Tensor Decode(Backend backend, byte[] bf16, float[] staging, int m, int n)
    {
        FloatConversions.Decode(SafetensorsDType.BF16, bf16, staging);
        var w = backend.Empty(m, n);
        backend.Upload(w, staging);
        return w;
    }

    private static double Median(IEnumerable<double> xs) => InitSummary.Median(xs.ToList());

    private static string Load() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]) : "n/a";

    private static string Uptime()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("uptime") { RedirectStandardOutput = true })!;
            var text = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return text;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "load average " + Load();
        }
    }
}
