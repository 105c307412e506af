// SyntheticCheckpoint.cs — writes an N-block Llama-2-7B-shaped bf16 checkpoint (sharded safetensors + index) for `sara init`.
using System.Globalization;
using Sara.Native.Backends;
using Sara.Native.IO;
using Sara.Native.Tensors;

namespace Sara.Bench.Init;

/// <summary>
/// Per block: q/k/v/o (hidden x hidden), gate/up (intermediate x hidden), down (hidden x intermediate), two RMSNorm
/// vectors; plus embed_tokens and lm_head (vocab x hidden) and the final norm. One shard per block. Each matrix is
/// W = U diag(s) V^T + sigma G: a power-law head s_i = c i^-a over 256 directions (U, V Gaussian with unit-norm columns
/// in expectation, nearly orthonormal at these sizes) plus a Gaussian bulk (sigma = 0.02, about a pretrained weight's
/// entry size); c = headScale x the bulk's largest singular value sigma (sqrt(m) + sqrt(n)). Seeded per tensor.
/// </summary>
public sealed record SyntheticCheckpoint(int Blocks, int Hidden = 4096, int Intermediate = 11008, int Vocab = 32000,
    int HeadDirections = 256, double HeadExponent = 0.5, double HeadScale = 24, double Sigma = 0.02, int Seed = 7)
{
    public static int Run(string[] args)
    {
        var blocks = 1;
        string? output = null;
        var settings = new SyntheticCheckpoint(1);
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--blocks": blocks = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--out": output = Next(); break;
                case "--hidden": settings = settings with { Hidden = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                case "--intermediate": settings = settings with { Intermediate = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                case "--vocab": settings = settings with { Vocab = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                case "--head-scale": settings = settings with { HeadScale = double.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                default: throw new ArgumentException($"unknown argument '{args[i]}'; usage: make-checkpoint --blocks N --out DIR [--hidden 4096 --intermediate 11008 --vocab 32000 --head-scale 24]");
            }
        }
        if (output is null) throw new ArgumentException("--out DIR is required");
        var index = (settings with { Blocks = blocks }).Write(output, Console.WriteLine);
        Console.WriteLine($"wrote {index}");
        return 0;
    }

    /// <summary>Writes the shards and model.safetensors.index.json into <paramref name="folder"/>; returns the index path.</summary>
    public string Write(string folder, Action<string> log)
    {
        Directory.CreateDirectory(folder);
        using var backend = new CpuBackend();
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        long total = 0;
        var shards = Blocks + 1;
        for (var shard = 0; shard < shards; shard++)
        {
            var file = $"model-{shard + 1:D5}-of-{shards:D5}.safetensors";
            var writer = new SafetensorsWriter();
            var tensors = shard < Blocks ? BlockTensors(shard) : OuterTensors();
            foreach (var (name, rows, cols) in tensors)
            {
                var seed = Seed * 1000 + weightMap.Count;
                long[] shape = cols == 0 ? [rows] : [rows, cols];
                writer.AddLazy(name, SafetensorsDType.BF16, shape, () => cols == 0 ? Ones(rows) : Matrix(backend, rows, cols, seed));
                weightMap[name] = file;
                total += (long)rows * Math.Max(cols, 1) * 2;
            }
            var clock = System.Diagnostics.Stopwatch.StartNew();
            writer.Save(Path.Combine(folder, file));
            log($"{file}: {tensors.Count} tensors, {clock.Elapsed.TotalSeconds:F1} s");
        }
        var indexPath = Path.Combine(folder, "model.safetensors.index.json");
        ShardedSafetensors.WriteIndex(indexPath, weightMap, total);
        return indexPath;
    }

    private List<(string, int, int)> BlockTensors(int b)
    {
        var p = $"model.layers.{b}.";
        return
        [
            (p + "self_attn.q_proj.weight", Hidden, Hidden), (p + "self_attn.k_proj.weight", Hidden, Hidden),
            (p + "self_attn.v_proj.weight", Hidden, Hidden), (p + "self_attn.o_proj.weight", Hidden, Hidden),
            (p + "mlp.gate_proj.weight", Intermediate, Hidden), (p + "mlp.up_proj.weight", Intermediate, Hidden),
            (p + "mlp.down_proj.weight", Hidden, Intermediate),
            (p + "input_layernorm.weight", Hidden, 0), (p + "post_attention_layernorm.weight", Hidden, 0),
        ];
    }

    private List<(string, int, int)> OuterTensors() =>
        [("model.embed_tokens.weight", Vocab, Hidden), ("model.norm.weight", Hidden, 0), ("lm_head.weight", Vocab, Hidden)];

    private static float[] Ones(int n) => Enumerable.Repeat(1f, n).ToArray();

    /// <summary>U diag(s) V^T + sigma G for one m x n matrix (GEMM on the CPU backend).</summary>
    public float[] Matrix(Backend backend, int m, int n, int seed)
    {
        var h = Math.Min(HeadDirections, Math.Min(m, n));
        var edge = Sigma * (Math.Sqrt(m) + Math.Sqrt(n));
        var c = HeadScale * edge;
        var u = SeededGaussian.Normal((long)m * h, 1.0 / Math.Sqrt(m), seed);
        var v = SeededGaussian.Normal((long)h * n, 1.0 / Math.Sqrt(n), seed ^ 0x5bd1e995);
        for (var i = 0; i < h; i++)
        {
            var s = (float)(c * Math.Pow(i + 1, -HeadExponent));
            for (var j = 0; j < n; j++) v[(long)i * n + j] *= s;
        }
        using var ut = backend.FromArray(u, m, h);
        using var vt = backend.FromArray(v, h, n);
        using var w = backend.FromArray(SeededGaussian.Normal((long)m * n, Sigma, seed ^ 0x1b873593), m, n);
        backend.Gemm(ut, false, vt, false, w, 1f, 1f);
        return w.ToArray();
    }
}
