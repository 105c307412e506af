// A small Llama-shaped checkpoint (bf16 shards + index) for the `sara init` tests.
using Sara.Native.IO;
using Sara.Tests.Support;

namespace Sara.Tests.Cli;

/// <summary>
/// Blocks of q/k/v/o (hidden x hidden), gate/up (inter x hidden), down (hidden x inter) and two norms, one shard per
/// block, then embed_tokens / lm_head (vocab x hidden) and the final norm. Each matrix is a rank-6 product plus noise
/// (a spectrum with a knee), stored as bf16. Returns the index path.
/// </summary>
public static class LlamaLikeCheckpoint
{
    public static string Write(string folder, int blocks, int hidden, int inter, int vocab, Rand rand)
    {
        Directory.CreateDirectory(folder);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        long total = 0;
        for (var b = 0; b <= blocks; b++)
        {
            var file = $"model-{b + 1:D5}-of-{blocks + 1:D5}.safetensors";
            var writer = new SafetensorsWriter();
            var p = $"model.layers.{b}.";
            (string, int, int)[] tensors = b < blocks
                ?
                [
                    (p + "self_attn.q_proj.weight", hidden, hidden), (p + "self_attn.k_proj.weight", hidden, hidden),
                    (p + "self_attn.v_proj.weight", hidden, hidden), (p + "self_attn.o_proj.weight", hidden, hidden),
                    (p + "mlp.gate_proj.weight", inter, hidden), (p + "mlp.up_proj.weight", inter, hidden),
                    (p + "mlp.down_proj.weight", hidden, inter), (p + "input_layernorm.weight", hidden, 0),
                    (p + "post_attention_layernorm.weight", hidden, 0),
                ]
                : [("model.embed_tokens.weight", vocab, hidden), ("model.norm.weight", hidden, 0), ("lm_head.weight", vocab, hidden)];
            foreach (var (name, rows, cols) in tensors)
            {
                long[] shape = cols == 0 ? [rows] : [rows, cols];
                writer.Add(name, SafetensorsDType.BF16, shape, cols == 0 ? Enumerable.Repeat(1f, rows).ToArray() : Matrix(rows, cols, rand));
                map[name] = file;
                total += (long)rows * Math.Max(cols, 1) * 2;
            }
            writer.Save(Path.Combine(folder, file));
        }
        var index = Path.Combine(folder, "model.safetensors.index.json");
        ShardedSafetensors.WriteIndex(index, map, total);
        return index;
    }

    /// <summary>A rank-6 product plus noise, m x n.</summary>
    public static float[] Matrix(int m, int n, Rand rand)
    {
        const int r = 6;
        var u = rand.Normal((long)m * r);
        var v = rand.Normal((long)r * n);
        var w = rand.Normal((long)m * n, 0.05);
        for (var i = 0; i < m; i++)
            for (var p = 0; p < r; p++)
            {
                var a = u[i * r + p] * (r - p);
                for (var j = 0; j < n; j++) w[(long)i * n + j] += a * v[p * n + j] / MathF.Sqrt(n);
            }
        return w;
    }
}
