using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Sara.Native.Tensors;

namespace Sara.Native.Backends;

// Mo-SARA routing in C#, token by token in a fixed order (deterministic). Same rules as kernels/routing.cu:
// top-k_r ties keep the lower expert index, dropped experts have gate 0 and receive no gradient.
public sealed unsafe partial class CpuBackend
{
    protected override void RoutingForwardCore(Tensor h, Tensor wg, Tensor bg, Tensor lambdas, int topK,
        Tensor gates, Tensor lamEff, Tensor z)
    {
        int t = h.Rows, k = h.Cols, e = wg.Rows;
        var b = S(bg);
        var p = new float[e];
        var keep = new bool[e];
        for (var r = 0; r < t; r++)
        {
            var hr = Row(h, r);
            for (var x = 0; x < e; x++) p[x] = TensorPrimitives.Dot(hr, Row(wg, x)) + b[x];
            KeptExperts(p, topK, keep);
            var max = TensorPrimitives.Max(p);
            var g = Row(gates, r);
            float total = 0;
            for (var x = 0; x < e; x++)
            {
                g[x] = keep[x] ? MathF.Exp(p[x] - max) : 0f;
                total += g[x];
            }
            var inv = 1f / total;
            var lam = Row(lamEff, r);
            lam.Clear();
            for (var x = 0; x < e; x++)
            {
                g[x] *= inv;
                if (g[x] != 0f) TensorPrimitives.MultiplyAdd(Row(lambdas, x), g[x], lam, lam);
            }
            TensorPrimitives.Multiply(hr, lam, Row(z, r));
        }
    }

    /// <summary>keep[x] = fewer than topK experts beat x (higher logit, or equal logit and lower index); topK 0 keeps all.</summary>
    private static void KeptExperts(ReadOnlySpan<float> p, int topK, Span<bool> keep)
    {
        for (var x = 0; x < p.Length; x++)
        {
            if (topK == 0 || topK >= p.Length) { keep[x] = true; continue; }
            var beaten = 0;
            for (var y = 0; y < p.Length; y++)
                if (p[y] > p[x] || (p[y] == p[x] && y < x)) beaten++;
            keep[x] = beaten < topK;
        }
    }

    protected override void RoutingBackwardCore(Tensor dz, Tensor h, Tensor wg, Tensor lambdas, Tensor gates, Tensor lamEff,
        float balanceWeight, Tensor dh, Tensor dLambdas, Tensor dWg, Tensor dbg)
    {
        int t = h.Rows, k = h.Cols, e = wg.Rows;
        var coef = new float[e];
        if (balanceWeight > 0 && t > 0)
        {
            var sums = new float[e];
            RouterCountsCore(gates, coef, sums);
            for (var x = 0; x < e; x++) coef[x] *= balanceWeight * e / ((float)t * t);
        }
        // Parameter gradients: float sums over chunks of RoutingChunkTokens tokens, chunk totals added in double.
        var lamPart = new float[e * k];
        var wgPart = new float[e * k];
        var bPart = new float[e];
        var lamSum = new double[e * k];
        var wgSum = new double[e * k];
        var bSum = new double[e];
        var dlam = new float[k];
        var dg = new float[e];
        for (var r = 0; r < t; r++)
        {
            Span<float> dzr = Row(dz, r), hr = Row(h, r), g = Row(gates, r), dhr = Row(dh, r);
            TensorPrimitives.Multiply(dzr, hr, dlam);
            for (var x = 0; x < e; x++) dg[x] = TensorPrimitives.Dot(dlam, Row(lambdas, x)) + coef[x];
            var s = TensorPrimitives.Dot(g, dg);
            TensorPrimitives.Multiply(dzr, Row(lamEff, r), dhr);
            for (var x = 0; x < e; x++)
            {
                if (g[x] == 0f) continue;   // dropped expert: no gradient
                var dp = g[x] * (dg[x] - s);
                TensorPrimitives.MultiplyAdd(Row(wg, x), dp, dhr, dhr);
                var lamRow = lamPart.AsSpan(x * k, k);
                var wgRow = wgPart.AsSpan(x * k, k);
                TensorPrimitives.MultiplyAdd(dlam, g[x], lamRow, lamRow);
                TensorPrimitives.MultiplyAdd(hr, dp, wgRow, wgRow);
                bPart[x] += dp;
            }
            if ((r + 1) % RoutingChunkTokens == 0 || r == t - 1)
            {
                Flush(lamPart, lamSum);
                Flush(wgPart, wgSum);
                Flush(bPart, bSum);
            }
        }
        Store(lamSum, S(dLambdas));
        Store(wgSum, S(dWg));
        Store(bSum, S(dbg));
    }

    private const int RoutingChunkTokens = 128;

    private static void Flush(float[] part, double[] sum)
    {
        for (var i = 0; i < part.Length; i++) sum[i] += part[i];
        Array.Clear(part);
    }

    private static void Store(double[] sum, Span<float> dst)
    {
        for (var i = 0; i < sum.Length; i++) dst[i] = (float)sum[i];
    }

    protected override void RouterCountsCore(Tensor gates, float[] counts, float[] sums)
    {
        int t = gates.Rows, e = gates.Cols;
        Array.Clear(counts);
        Array.Clear(sums);
        for (var r = 0; r < t; r++)
        {
            var g = Row(gates, r);
            var top = 0;
            for (var x = 1; x < e; x++)
                if (g[x] > g[top]) top = x;   // strict: ties keep the lower index
            counts[top] += 1f;
            TensorPrimitives.Add(sums, g, sums);
        }
    }
}
