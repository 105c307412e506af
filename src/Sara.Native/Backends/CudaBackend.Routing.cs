using Sara.Native.Runtime;
using Sara.Native.Tensors;

namespace Sara.Native.Backends;

// Mo-SARA routing on the kernel runtime (kernels/routing.cu). Sums over tokens: per-chunk partials, then
// sara_column_sum in a fixed order; the chunking depends on T only, so the bits do not depend on the device.
public sealed partial class CudaBackend
{
    private const int RoutingWarpsPerBlock = 8;

    /// <summary>Tokens per chunk of the parameter reductions: a multiple of 32, at least 128, at most 64 chunks.</summary>
    internal static int RoutingChunk(int t) => Math.Max(128, (int)((((long)t + 63) / 64 + 31) / 32 * 32));

    protected override void RoutingForwardCore(Tensor h, Tensor wg, Tensor bg, Tensor lambdas, int topK,
        Tensor gates, Tensor lamEff, Tensor z)
    {
        int t = h.Rows, k = h.Cols, e = wg.Rows;
        if (t == 0) return;
        Launch("sara_routing_fwd", CeilDiv(t, RoutingWarpsPerBlock),
            [h.Ptr, wg.Ptr, bg.Ptr, lambdas.Ptr, gates.Ptr, lamEff.Ptr, z.Ptr, t, e, k, topK]);
    }

    protected override void RoutingBackwardCore(Tensor dz, Tensor h, Tensor wg, Tensor lambdas, Tensor gates, Tensor lamEff,
        float balanceWeight, Tensor dh, Tensor dLambdas, Tensor dWg, Tensor dbg)
    {
        int t = h.Rows, k = h.Cols, e = wg.Rows;
        if (t == 0)
        {
            Fill(dLambdas, 0f);
            Fill(dWg, 0f);
            Fill(dbg, 0f);
            return;
        }
        var chunk = RoutingChunk(t);
        var chunks = (int)CeilDiv(t, chunk);

        using var topCount = balanceWeight > 0 ? Empty(e) : null;
        if (topCount is not null)
        {
            using var gateSum = Empty(e);
            RouterCountsOnDevice(gates, chunk, chunks, topCount, gateSum);
        }
        var balanceScale = balanceWeight * e / ((float)t * t);   // dL_aux/dg_te = beta E (count_e / T) / T

        using var dp = Empty(t, e);
        Launch("sara_routing_bwd_token", CeilDiv(t, RoutingWarpsPerBlock),
            [dz.Ptr, h.Ptr, wg.Ptr, lambdas.Ptr, gates.Ptr, lamEff.Ptr, topCount?.Ptr ?? 0, balanceScale, dh.Ptr, dp.Ptr, t, e, k]);

        using var lamPart = Empty(chunks, e * k);
        using var wgPart = Empty(chunks, e * k);
        Launch("sara_routing_bwd_params", new Dim3(CeilDiv(k, 32), (uint)chunks),
            [dz.Ptr, h.Ptr, gates.Ptr, dp.Ptr, lamPart.Ptr, wgPart.Ptr, t, e, k, chunk]);
        Launch("sara_column_sum", CeilDiv(e * k, 32), [lamPart.Ptr, dLambdas.Ptr, chunks, e * k, 0f]);
        Launch("sara_column_sum", CeilDiv(e * k, 32), [wgPart.Ptr, dWg.Ptr, chunks, e * k, 0f]);
        ColumnSumCore(dp, dbg, 0f);
    }

    protected override void RouterCountsCore(Tensor gates, float[] counts, float[] sums)
    {
        int t = gates.Rows, e = gates.Cols;
        var chunk = RoutingChunk(t);
        using var count = Empty(e);
        using var sum = Empty(e);
        RouterCountsOnDevice(gates, chunk, (int)CeilDiv(t, chunk), count, sum);
        Download(count, counts);
        Download(sum, sums);
    }

    private void RouterCountsOnDevice(Tensor gates, int chunk, int chunks, Tensor count, Tensor sum)
    {
        int t = gates.Rows, e = gates.Cols;
        using var countPart = Empty(chunks, e);
        using var sumPart = Empty(chunks, e);
        Launch("sara_routing_stats", (uint)chunks, [gates.Ptr, countPart.Ptr, sumPart.Ptr, t, e, chunk]);
        ColumnSumCore(countPart, count, 0f);
        ColumnSumCore(sumPart, sum, 0f);
    }
}
