// GpuTiming.cs — CUDA-event timing of the bench kernels on the GPU: each case runs warm-up times, then `runs` times with
// a 256 MiB buffer rewritten before every run (L2 flushed: inputs come from HBM), and the median is reported beside
// the floor max(flops / 67 TFLOP/s fp32, bytes / 4.8 TB/s) (H200; cuBLAS runs full FP32 here, no TF32). Mixed-precision
// rows (issue 13): the layers with a bf16 W (W0) and float32 activations, and the dense GEMM as bf16 GemmEx, float32
// and TF32 (their floors use 989 / 67 / 495 TFLOP/s).
using System.Text;
using Sara.Bench;
using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Layers;
using Sara.Native.Optim;
using Sara.Native.Runtime;
using Sara.Native.Svd;
using Sara.Native.Tensors;

namespace Sara.DeviceCheck;

public sealed record TimingTable(string Full, List<string> Short);

public sealed class GpuTiming(CudaBackend backend, GpuRuntime gpu, int runs)
{
    private const int Warmup = 3;
    private readonly List<(string Name, string Shape, double Ms, Work Work, string Ratio, double Peak)> _rows = [];

    /// <summary>The bench shapes plus one whose activations (256 MiB) are far larger than the 50-60 MiB L2.</summary>
    private static readonly LayerShape[] LayerShapes = [.. Shapes.Layers, new(16384, 4096, 4096, 64)];

    public TimingTable Run()
    {
        using var flush = backend.Empty(64 << 20);
        foreach (var s in LayerShapes) Layers(s, flush);
        foreach (var s in LayerShapes) MixedPrecision(s, flush);
        Svd(flush);
        var sb = new StringBuilder();
        sb.AppendLine("timing (CUDA events, median of " + runs + " runs after " + Warmup + " warm-up, L2 flushed before each):");
        sb.AppendLine($"{"case",-34} {"shape",-26} {"median ms",10} {"floor us",10} {"% of floor",10}  ratio");
        var shortLines = new List<string> { $"{"case",-24} {"shape",-26} {"ms",9} {"floor%",7} ratio" };
        foreach (var r in _rows)
        {
            var floorUs = r.Work.Floor(r.Peak, Floors.H200Bandwidth) * 1e6;
            var pct = floorUs / (r.Ms * 1e3) * 100;
            sb.AppendLine($"{r.Name,-34} {r.Shape,-26} {r.Ms,10:F4} {floorUs,10:F1} {pct,9:F0}%  {r.Ratio}");
            if (r.Ratio.Length > 0 || r.Name.StartsWith("dense", StringComparison.Ordinal))
                shortLines.Add($"{r.Name,-24} {r.Shape,-26} {r.Ms,9:F3} {pct,6:F0}% {r.Ratio}");
        }
        return new TimingTable(sb.ToString(), shortLines);
    }

    private double Median(Action work, Tensor flush)
    {
        for (var i = 0; i < Warmup; i++) work();
        gpu.Synchronize();
        var times = new double[runs];
        for (var i = 0; i < runs; i++)
        {
            backend.Fill(flush, i);
            times[i] = gpu.TimeMilliseconds(work);
        }
        Array.Sort(times);
        return times[runs / 2];
    }

    private void Layers(LayerShape s, Tensor flush)
    {
        var (t, k) = (s.T, s.K);
        using var layers = new BenchLayers(backend, s);
        var (dense, sara, mosara, x, g) = (layers.Dense, layers.Sara, layers.MoSara, layers.X, layers.G);
        Action Step(Func<Tape, Variable, Variable> forward, bool backward) => () =>
        {
            using var scope = new TensorScope();
            var tape = new Tape();
            var y = forward(tape, x);
            if (!backward) return;
            tape.Seed(y, g);
            tape.Backward();
        };
        var shape = s.ToString();
        var df = Median(Step(dense.Forward, false), flush);
        Add("dense forward", shape, df, Floors.DenseForward(s), "");
        Add("SARA forward", shape, Median(Step(sara.Forward, false), flush), Floors.SaraForward(s), df);
        Add("Mo-SARA forward", shape, Median(Step(mosara.Forward, false), flush), Floors.MoSaraForward(s, Shapes.Experts), df);
        var db = Median(Step(dense.Forward, true), flush);
        Add("dense fwd+bwd", shape, db, Floors.DenseForwardBackward(s), "");
        Add("SARA fwd+bwd", shape, Median(Step(sara.Forward, true), flush), Floors.SaraForwardBackward(s), db);
        Add("Mo-SARA fwd+bwd", shape, Median(Step(mosara.Forward, true), flush), Floors.MoSaraForwardBackward(s, Shapes.Experts), db);

        using var h = backend.Empty(t, k);
        using var z = backend.Empty(t, k);
        using var dh = backend.Empty(t, k);
        using var dl = backend.Empty(k);
        Add("op LowRankForward (2 kernels)", shape, Median(() => backend.LowRankForward(x.Value, sara.B.Value, sara.Lambda.Value, h, z), flush),
            Floors.LowRankForwardKernel(s), "");
        Add("op LowRankBackwardRank (3 kern.)", shape, Median(() => backend.LowRankBackwardRank(g, sara.A.Value, h, sara.Lambda.Value, 1f, null, dh, dl), flush),
            Floors.LowRankBackwardKernel(s), "");

        var tapeS = new Tape();
        using (new TensorScope()) { tapeS.Seed(sara.Forward(tapeS, x), g); tapeS.Backward(); }
        using var opt = new AdamW(sara.Parameters, new AdamWOptions(1e-4f, WeightDecay: 0.01f));
        Add("AdamW SARA adapter", shape, Median(() => opt.Step(tapeS), flush), Floors.AdamW(sara.TrainableParameterCount), "");
    }

    /// <summary>The layers with a bf16 weight (float32 activations) beside float32, and Y = X W^T as bf16 GemmEx, FP32 and TF32.</summary>
    private void MixedPrecision(LayerShape s, Tensor flush)
    {
        using var f32 = new BenchLayers(backend, s);
        using var bf16 = new BenchLayers(backend, s, DType.BF16);
        Action Step(BenchLayers l, Func<Tape, Variable, Variable> forward) => () =>
        {
            using var scope = new TensorScope();
            var tape = new Tape();
            tape.Seed(forward(tape, l.X), l.G);
            tape.Backward();
        };
        var shape = s.ToString();
        var d32 = Median(Step(f32, f32.Dense.Forward), flush);
        var d16 = Median(Step(bf16, bf16.Dense.Forward), flush);
        Add("dense fwd+bwd, bf16 W", shape, d16, Floors.DenseForwardBackward(s), $"{d16 / d32:F3} of f32 W");
        var s16 = Median(Step(bf16, bf16.Sara.Forward), flush);
        Add("SARA fwd+bwd, bf16 W0", shape, s16, Floors.SaraForwardBackward(s), $"{s16 / d16:F3} of dense bf16 W");
        var m16 = Median(Step(bf16, bf16.MoSara.Forward), flush);
        Add("Mo-SARA fwd+bwd, bf16 W0", shape, m16, Floors.MoSaraForwardBackward(s, Shapes.Experts), $"{m16 / d16:F3} of dense bf16 W");

        using var x16 = backend.Empty(DType.BF16, s.T, s.N);
        backend.Convert(f32.X.Value, x16);
        using var y = backend.Empty(s.T, s.M);
        var w16 = bf16.Dense.Weight.Value;
        var w32 = f32.Dense.Weight.Value;
        var gemm = Floors.DenseForward(s);
        var fp32 = Median(() => backend.Gemm(f32.X.Value, false, w32, true, y), flush);
        Add("GEMM X W^T fp32 (cublasSgemm)", shape, fp32, gemm, "");
        var ex = Median(() => backend.Gemm(x16, false, w16, true, y), flush);
        Add("GEMM X W^T bf16 (cublasGemmEx)", shape, ex, gemm with { Bytes = gemm.Bytes / 2 }, $"{fp32 / ex:F1}x faster than fp32", Floors.H200Bf16);
        var mixed = Median(() => backend.Gemm(f32.X.Value, false, w16, true, y), flush);
        Add("GEMM f32 X, bf16 W (panels)", shape, mixed, gemm, $"{mixed / fp32:F3} of fp32");
        gpu.AllowTf32 = true;
        try
        {
            var tf32 = Median(() => backend.Gemm(f32.X.Value, false, w32, true, y), flush);
            Add("GEMM X W^T TF32 (opt-in)", shape, tf32, gemm, $"{fp32 / tf32:F1}x faster than fp32", Floors.H200Tf32);
        }
        finally { gpu.AllowTf32 = false; }
    }

    private void Svd(Tensor flush)
    {
        foreach (var n in Shapes.SvdN)
        {
            using var w = backend.FromArray(SeededGaussian.Normal((long)n * n, 1 / Math.Sqrt(n), 11), n, n);
            var exact = Median(() => TruncatedSvd.ExactSingularValues(backend, w), flush);
            Add("exact singular values (cuSOLVER)", $"n{n}", exact, Floors.ExactSvd(n), "");
            foreach (var k in Shapes.SvdK)
            {
                var opts = new SvdOptions(k, Oversampling: k, PowerIterations: 6, Seed: k);
                var tr = Median(() => TruncatedSvd.Compute(backend, w, opts).Dispose(), flush);
                Add("truncated SVD", $"n{n}_k{k}", tr, Floors.TruncatedSvd(n, k, 2 * k, 6), $"{exact / tr:F1}x faster than exact");
            }
        }
    }

    private void Add(string name, string shape, double ms, Work work, double reference) =>
        Add(name, shape, ms, work, $"{ms / reference:F3} of dense");

    private void Add(string name, string shape, double ms, Work work, string ratio, double peak = Floors.H200Fp32)
    {
        _rows.Add((name, shape, ms, work, ratio, peak));
        Console.WriteLine($"  {name,-34} {shape,-26} {ms,10:F4} ms {ratio}");
    }
}
