using Sara.Native.Runtime;
using Sara.Native.Tensors;

namespace Sara.Native.Backends;

// Mo-SARA routing on the kernel runtime (kernels/routing.cu). Sums over tokens: per-chunk partials, then
// sara_column_sum in a fixed order; the chunking depends on the shape only, so the bits do not depend on the device.
public sealed partial class CudaBackend
{
    private const int RoutingWarpsPerBlock = 8;

    /// <summary>Tokens per chunk of the router statistics (sara_routing_stats): a multiple of 32, at least 128, at most 64 chunks.</summary>
    internal static int RoutingChunk(int t) => Math.Max(128, (int)((((long)t + 63) / 64 + 31) / 32 * 32));

    /// <summary>
    /// Tokens per chunk of the parameter reductions (sara_routing_bwd_params, grid ceil(k/32) x chunks): from (T, k) alone,
    /// so the bits do not depend on the device; >= <see cref="TargetBlocks"/> blocks once T allows.
    /// </summary>
    internal static int RoutingParamChunk(int t, int k) => Math.Max(1, t / CeilDivInt(TargetBlocks, CeilDivInt(k, 32)));

    protected override void RoutingForwardCore(Tensor h, Tensor wg, Tensor bg, Tensor lambdas, int topK,
        Tensor gates, Tensor lamEff, Tensor z)
    {
        int t = h.Rows, k = h.Cols, e = wg.Rows;
        if (t == 0) return;
        Kernels.SaraRoutingFwd(Runtime, CeilDiv(t, RoutingWarpsPerBlock), Threads, 0, h, wg, bg, lambdas, gates, lamEff, z, t, e, k, topK);
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
        using var topCount = balanceWeight > 0 ? Empty(e) : null;
        if (topCount is not null)
        {
            using var gateSum = Empty(e);
            var statsChunk = RoutingChunk(t);
            RouterCountsOnDevice(gates, statsChunk, (int)CeilDiv(t, statsChunk), topCount, gateSum);
        }
        var balanceScale = balanceWeight * e / ((float)t * t);   // dL_aux/dg_te = beta E (count_e / T) / T

        using var dp = Empty(t, e);
        Kernels.SaraRoutingBwdToken(Runtime, CeilDiv(t, RoutingWarpsPerBlock), Threads, 0,
            dz, h, wg, lambdas, gates, lamEff, topCount, balanceScale, dh, dp, t, e, k);

        var chunk = RoutingParamChunk(t, k);
        var chunks = (int)CeilDiv(t, chunk);
        using var lamPart = Empty(chunks, e * k);
        using var wgPart = Empty(chunks, e * k);
        Kernels.SaraRoutingBwdParams(Runtime, new Dim3(CeilDiv(k, 32), (uint)chunks), Threads, 0,
            dz, h, gates, dp, lamPart, wgPart, t, e, k, chunk);
        ColumnSums(lamPart, chunks, e * k, dLambdas, 0f);
        ColumnSums(wgPart, chunks, e * k, dWg, 0f);
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
        Kernels.SaraRoutingStats(Runtime, (uint)chunks, Threads, 0, gates, countPart, sumPart, t, e, chunk);
        ColumnSumCore(countPart, count, 0f);
        ColumnSumCore(sumPart, sum, 0f);
    }
}
