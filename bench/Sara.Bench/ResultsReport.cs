// ResultsReport.cs — the committed markdown: ratios (SARA/dense, Mo-SARA/dense, truncated/exact) with raw medians,
// the CPU targets with their gap when missed, the measured machine ceilings, and the floors per kernel.
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Sara.Native.Backends;
using Sara.Native.Layers;

namespace Sara.Bench;

public sealed class ResultsReport(Backend backend, Medians med, List<SvdAccuracyRow> accuracy, string job, TimeSpan elapsed, string load, PairedRatios paired)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly List<(string Target, double Measured, double Limit, bool AtMost, double? FromMinima, double? Paired)> _targets = [];

    private static string Ms(double? s) => s is null ? "n/a" : (s.Value * 1e3).ToString(s.Value < 1e-3 ? "F4" : "F2", Inv);
    private static string R(double? r) => r is null ? "n/a" : r.Value.ToString("F3", Inv);
    private static double? Div(double? a, double? b) => a is null || b is null ? null : a / b;

    // Ceilings from the fastest iteration: other load on the machine can only lower a measured ceiling.
    private double? Gemm => med.Min(nameof(MachineBenchmarks.Sgemm2048)) is { } t ? 2.0 * Math.Pow(MachineBenchmarks.GemmN, 3) / t : null;
    private double? FmaPeak => med.Min(nameof(MachineBenchmarks.FmaPeak)) is { } t ? MachineBenchmarks.FmaPeakFlops / t : null;
    private double? Bandwidth => med.Min(nameof(MachineBenchmarks.Copy256MiB)) is { } t ? 2.0 * 4 * MachineBenchmarks.CopyFloats / t : null;

    public string Markdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# Sara.Native benchmark — device `{backend.Name}`");
        sb.AppendLine();
        sb.AppendLine("Produced by `./build.sh --target=Bench` (`bench/Sara.Bench`); regenerate rather than edit.");
        sb.AppendLine();
        Machine(sb);
        Targets(sb);
        Layers(sb);
        MixedPrecision(sb);
        Svd(sb);
        AdamW(sb);
        FloorTable(sb);
        return sb.ToString();
    }

    public string TargetsText() => string.Join(Environment.NewLine, _targets.Select(t =>
        $"{(Holds(t) ? "HOLDS " : "MISSED")} {t.Target}: {(t.Paired ?? t.Measured).ToString(t.Limit < 0.01 ? "E2" : "F3", Inv)} (limit {t.Limit.ToString(t.Limit < 0.01 ? "E2" : "F3", Inv)})"));

    /// <summary>The target's verdict: on the paired ratio where there is one (robust to load), else on the medians.</summary>
    private static bool Holds((string, double Measured, double Limit, bool AtMost, double?, double? Paired) t) =>
        Holds(t.Paired ?? t.Measured, t.Limit, t.AtMost);

    private static bool Holds(double measured, double limit, bool atMost) => atMost ? measured <= limit : measured >= limit;

    private void Machine(StringBuilder sb)
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        sb.AppendLine("## Machine and job");
        sb.AppendLine();
        sb.AppendLine($"- date: {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", Inv)} UTC; suite wall time {elapsed.TotalMinutes.ToString("F1", Inv)} min");
        sb.AppendLine($"- device: {backend.Description}");
        sb.AppendLine($"- CPU: {cpu ?? "unknown"}, {Environment.ProcessorCount} logical cores; {RuntimeInformation.OSDescription}; {RuntimeInformation.FrameworkDescription}");
        sb.AppendLine($"- job: BenchmarkDotNet 0.15.8, {job}");
        sb.AppendLine($"- load average (1 min) at start / end of the run: {load} — on this shared 2-core machine other builds compete; " +
                      "ratios of minima are given beside ratios of medians because other load only ever adds time");
        sb.AppendLine($"- measured ceilings (same run): FMA peak {F(FmaPeak / 1e9, "F1")} GFLOP/s (independent register FMAs on every core, " +
                      $"{(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "512" : "256")}-bit vectors); sgemm {F(Gemm / 1e9, "F1")} GFLOP/s " +
                      $"(2048^3 through `Backend.Gemm`, fastest iteration; {R(Div(Gemm, FmaPeak))} of the FMA peak); " +
                      $"memory bandwidth {F(Bandwidth / 1e9, "F1")} GB/s (`Backend.Copy` of 256 MiB, read + write counted)");
        sb.AppendLine();
    }

    private static string F(double? v, string fmt) => v is null ? "n/a" : v.Value.ToString(fmt, Inv);

    private void Targets(StringBuilder sb)
    {
        foreach (var s in Shapes.Layers)
        {
            var p = ("Shape", (object)s);
            foreach (var (what, num, den, limit) in new[] { ("SARA forward / dense forward", "SaraForward", "DenseForward", 1.10),
                         ("SARA fwd+bwd / dense fwd+bwd", "SaraForwardBackward", "DenseForwardBackward", 0.76),
                         ("Mo-SARA fwd+bwd / dense fwd+bwd", "MoSaraForwardBackward", "DenseForwardBackward", 0.75),
                         ("bf16-W0 SARA fwd+bwd / bf16 dense fwd+bwd", "SaraForwardBackwardBf16", "DenseForwardBackwardBf16", 0.76) })
                if (Div(med.Get(num, p), med.Get(den, p)) is { } r)
                    _targets.Add(($"{what}, {s}", r, limit, true, Div(med.Min(num, p), med.Min(den, p)), paired.Get(num, den, s)));
        }
        if (Div(med.Get("Exact", ("N", 2048)), med.Get("Truncated", ("K", 64), ("N", 2048))) is { } speed)
            _targets.Add(("exact / truncated SVD time, n = 2048, k = 64 (speed-up)", speed, 4, false,
                Div(med.Min("Exact", ("N", 2048)), med.Min("Truncated", ("K", 64), ("N", 2048))),
                paired.Get("Truncated", "Exact", "n2048_k64") is { } pr ? 1 / pr : null));
        if (accuracy.FirstOrDefault(r => r is { N: 2048, K: 64 }) is { } acc)
            _targets.Add(("truncated SVD n = 2048, k = 64: max rel. error of s_1..s_k vs exact", acc.VsExact, 1e-3, true, null, null));
        if (_targets.Count == 0) return;
        sb.AppendLine("## Targets");
        sb.AppendLine();
        sb.AppendLine($"Verdict on the paired ratio (median over {paired.Rounds} interleaved rounds of {(paired.CpuClock ? "process CPU time" : "wall-clock time")}, see `PairedRatios.cs`) where there is one; " +
                      "the BenchmarkDotNet medians and minima of the same run beside it.");
        sb.AppendLine();
        sb.AppendLine("| target | paired | BDN medians | BDN minima | limit | status |");
        sb.AppendLine("|---|---:|---:|---:|---:|---|");
        foreach (var t in _targets)
        {
            var v = t.Paired ?? t.Measured;
            var miss = t.AtMost ? v / t.Limit - 1 : t.Limit / v - 1;
            var status = Holds(t) ? "holds" : $"**missed by {(miss * 100).ToString("F1", Inv)}%**";
            var fmt = t.Limit < 0.01 ? "E2" : "F3";
            sb.AppendLine($"| {t.Target} | {(t.Paired is { } pp ? pp.ToString(fmt, Inv) : "")} | {t.Measured.ToString(fmt, Inv)} | " +
                          $"{(t.FromMinima is { } m ? m.ToString(fmt, Inv) : "")} | {(t.AtMost ? "<= " : ">= ")}{t.Limit.ToString(fmt, Inv)} | {status} |");
        }
        sb.AppendLine();
        sb.AppendLine("Why a target is missed, where one is: see `bench/README.md` (Notes).");
        sb.AppendLine();
    }

    private void Layers(StringBuilder sb)
    {
        sb.AppendLine("## Layers: median ms and ratios to the dense layer (E = 4 experts for Mo-SARA)");
        sb.AppendLine();
        sb.AppendLine("Flop floor of a ratio: forward 1 + k(n+m)/(nm); SARA fwd+bwd 2/3 + k(n+m)/(nm); Mo-SARA fwd+bwd 2/3 + 2k(n+m)/(3nm). " +
                      "These assume every flop runs at one rate. On the CPU the rank-k products run on the AVX-512 kernels " +
                      "(src/Sara.Native/Runtime/HostKernels) and the dense GEMMs on OpenBLAS, whose kernel family is in the " +
                      "device line above; when that family is narrower (AVX2), a ratio can land below its flop floor.");
        sb.AppendLine();
        sb.AppendLine("| T, n, m, k | pass | dense | SARA | Mo-SARA | SARA/dense | Mo-SARA/dense | SARA/dense (minima) | Mo-SARA/dense (minima) | SARA/dense (paired) | Mo-SARA/dense (paired) | flop floor SARA/dense | flop floor Mo-SARA/dense |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var s in Shapes.Layers)
        {
            var p = ("Shape", (object)s);
            var lr = (double)s.K * (s.N + s.M) / ((double)s.N * s.M);
            foreach (var (pass, suffix, fs, fm) in new[] { ("forward", "Forward", 1 + lr, 1 + lr), ("fwd+bwd", "ForwardBackward", 2.0 / 3 + lr, 2.0 / 3 + 2 * lr / 3) })
            {
                double? d = med.Get("Dense" + suffix, p), sa = med.Get("Sara" + suffix, p), mo = med.Get("MoSara" + suffix, p);
                double? dMin = med.Min("Dense" + suffix, p), saMin = med.Min("Sara" + suffix, p), moMin = med.Min("MoSara" + suffix, p);
                sb.AppendLine($"| {s.T}, {s.N}, {s.M}, {s.K} | {pass} | {Ms(d)} | {Ms(sa)} | {Ms(mo)} | {R(Div(sa, d))} | {R(Div(mo, d))} | {R(Div(saMin, dMin))} | {R(Div(moMin, dMin))} | {R(paired.Get("Sara" + suffix, "Dense" + suffix, s))} | {R(paired.Get("MoSara" + suffix, "Dense" + suffix, s))} | {R(fs)} | {R(fm)} |");
            }
        }
        sb.AppendLine();
    }

    private void MixedPrecision(StringBuilder sb)
    {
        sb.AppendLine("## Mixed precision: bf16 W (W0) vs float32, side by side (median ms; float32 activations)");
        sb.AppendLine();
        sb.AppendLine("The same layers with the weight stored in bf16 (the same values rounded): the dense layer's GEMMs with W and " +
                      "SARA's / Mo-SARA's with W0 then take a 16-bit operand (on the CPU: MixedGemm widens it a panel at a time into " +
                      "float32 scratch for OpenBLAS; on a GPU: cublasGemmEx or the same panels). Ratios paired as above.");
        sb.AppendLine();
        sb.AppendLine("| T, n, m, k | pass | dense f32 | dense bf16 | bf16/f32 (paired) | SARA f32 | SARA bf16-W0 | bf16/f32 (paired) | Mo-SARA bf16-W0 | SARA/dense, bf16 (paired) | Mo-SARA/dense, bf16 (paired) |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var s in Shapes.Layers)
        {
            var p = ("Shape", (object)s);
            sb.AppendLine($"| {s.T}, {s.N}, {s.M}, {s.K} | forward | {Ms(med.Get("DenseForward", p))} | {Ms(med.Get("DenseForwardBf16", p))} | " +
                          $"{R(paired.Get("DenseForwardBf16", "DenseForward", s))} | {Ms(med.Get("SaraForward", p))} | {Ms(med.Get("SaraForwardBf16", p))} | | | " +
                          $"{R(paired.Get("SaraForwardBf16", "DenseForwardBf16", s))} | |");
            sb.AppendLine($"| {s.T}, {s.N}, {s.M}, {s.K} | fwd+bwd | {Ms(med.Get("DenseForwardBackward", p))} | {Ms(med.Get("DenseForwardBackwardBf16", p))} | " +
                          $"{R(paired.Get("DenseForwardBackwardBf16", "DenseForwardBackward", s))} | {Ms(med.Get("SaraForwardBackward", p))} | " +
                          $"{Ms(med.Get("SaraForwardBackwardBf16", p))} | {R(paired.Get("SaraForwardBackwardBf16", "SaraForwardBackward", s))} | " +
                          $"{Ms(med.Get("MoSaraForwardBackwardBf16", p))} | {R(paired.Get("SaraForwardBackwardBf16", "DenseForwardBackwardBf16", s))} | " +
                          $"{R(paired.Get("MoSaraForwardBackwardBf16", "DenseForwardBackwardBf16", s))} |");
        }
        sb.AppendLine();
    }

    private void Svd(StringBuilder sb)
    {
        sb.AppendLine($"## Truncated SVD vs exact singular values (n x n, s_i = i^-{Shapes.SpectrumExponent.ToString(Inv)}, Haar U and V)");
        sb.AppendLine();
        var o = TruncatedSvdBenchmarks.Options(64);
        sb.AppendLine($"Truncated: `TruncatedSvd.Compute` with oversampling k, {o.PowerIterations} power iterations (sketch l = 2k). Exact: " +
                      $"`TruncatedSvd.ExactSingularValues` ({(backend.Name == "cpu" ? "LAPACKE sgesdd, values only" : "cuSOLVER")}).");
        sb.AppendLine();
        sb.AppendLine("| n | k | truncated ms | exact ms | truncated/exact | speed-up | truncated/exact (paired) | max rel err s_1..s_k vs exact | vs known spectrum |");
        sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var n in Shapes.SvdN)
            foreach (var k in Shapes.SvdK)
            {
                double? t = med.Get("Truncated", ("K", k), ("N", n)), e = med.Get("Exact", ("N", n));
                var a = accuracy.FirstOrDefault(r => r.N == n && r.K == k);
                sb.AppendLine($"| {n} | {k} | {Ms(t)} | {Ms(e)} | {R(Div(t, e))} | {F(Div(e, t), "F1")}x | {R(paired.Get("Truncated", "Exact", $"n{n}_k{k}"))} | {F(a?.VsExact, "E2")} | {F(a?.VsKnown, "E2")} |");
            }
        sb.AppendLine();
    }

    private static long SaraParams(LayerShape s) => (long)s.M * s.K + (long)s.K * s.N + s.K;
    private static long MoSaraParams(LayerShape s) => 2L * Shapes.Experts * s.K + Shapes.Experts;

    private void AdamW(StringBuilder sb)
    {
        sb.AppendLine("## AdamW step over all of a layer's trainable parameters (median ms)");
        sb.AppendLine();
        sb.AppendLine("| T, n, m, k | dense (W) | params | SARA (lambda, A, B) | params | Mo-SARA (Lambda, Wg, bg) | params | SARA/dense |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var s in Shapes.Layers)
        {
            var p = ("Shape", (object)s);
            double? d = med.Get("AdamWDense", p), sa = med.Get("AdamWSara", p), mo = med.Get("AdamWMoSara", p);
            sb.AppendLine($"| {s.T}, {s.N}, {s.M}, {s.K} | {Ms(d)} | {(long)s.M * s.N} | {Ms(sa)} | {SaraParams(s)} | {Ms(mo)} | {MoSaraParams(s)} | {R(Div(sa, d))} |");
        }
        sb.AppendLine();
    }

    private void FloorTable(StringBuilder sb)
    {
        sb.AppendLine("## Floors: work per kernel at the bench shapes");
        sb.AppendLine();
        sb.AppendLine("Floor = max(flops / peak, bytes / bandwidth). This CPU: the FMA peak and copy bandwidth measured above (the sgemm " +
                      "rate is not a peak: the rank-k kernels beat it). " +
                      "H200: 4.8 TB/s, 67 TFLOP/s fp32, 495 TFLOP/s tf32. Bytes: every operand of each GEMM/kernel read once, outputs written once.");
        sb.AppendLine();
        sb.AppendLine("| kernel | shape | GFLOP | MB | floor this CPU ms | measured ms | measured/floor | H200 fp32 floor us | H200 tf32 floor us |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        void Row(string kernel, string shape, Work w, double? measured)
        {
            double? cpu = FmaPeak is { } g && Bandwidth is { } bw ? w.Floor(g, bw) : null;
            var h200 = w.Floor(Floors.H200Fp32, Floors.H200Bandwidth) * 1e6;
            var h200t = w.Floor(Floors.H200Tf32, Floors.H200Bandwidth) * 1e6;
            sb.AppendLine($"| {kernel} | {shape} | {(w.Flops / 1e9).ToString("F3", Inv)} | {(w.Bytes / 1e6).ToString("F1", Inv)} | {Ms(cpu)} | {Ms(measured)} | {R(Div(measured, cpu))} | {h200.ToString("F1", Inv)} | {h200t.ToString("F1", Inv)} |");
        }
        foreach (var s in Shapes.Layers)
        {
            var p = ("Shape", (object)s);
            var shape = $"{s.T}, {s.N}, {s.M}, {s.K}";
            Row("dense forward", shape, Floors.DenseForward(s), med.Get("DenseForward", p));
            Row("dense fwd+bwd", shape, Floors.DenseForwardBackward(s), med.Get("DenseForwardBackward", p));
            Row("SARA forward", shape, Floors.SaraForward(s), med.Get("SaraForward", p));
            Row("SARA fwd+bwd", shape, Floors.SaraForwardBackward(s), med.Get("SaraForwardBackward", p));
            Row("Mo-SARA forward", shape, Floors.MoSaraForward(s, Shapes.Experts), med.Get("MoSaraForward", p));
            Row("Mo-SARA fwd+bwd", shape, Floors.MoSaraForwardBackward(s, Shapes.Experts), med.Get("MoSaraForwardBackward", p));
            Row("lowrank_fwd kernel (H, Z)", shape, Floors.LowRankForwardKernel(s), null);
            Row("lowrank_bwd_rank kernel", shape, Floors.LowRankBackwardKernel(s), null);
            Row("AdamW, SARA adapter", shape, Floors.AdamW(SaraParams(s)), med.Get("AdamWSara", p));
            Row("AdamW, dense W", shape, Floors.AdamW((long)s.M * s.N), med.Get("AdamWDense", p));
        }
        foreach (var n in Shapes.SvdN)
        {
            foreach (var k in Shapes.SvdK)
                Row("truncated SVD (q = 6, l = 2k)", $"n {n}, k {k}", Floors.TruncatedSvd(n, k, 2 * k, 6), med.Get("Truncated", ("K", k), ("N", n)));
            Row("exact singular values", $"n {n}", Floors.ExactSvd(n), med.Get("Exact", ("N", n)));
        }
        sb.AppendLine();
    }
}
