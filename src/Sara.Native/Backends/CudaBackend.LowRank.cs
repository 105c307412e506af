using Sara.Native.Runtime;
using Sara.Native.Tensors;

namespace Sara.Native.Backends;

// SARA's rank-k products on the kernel runtime (kernels/lowrank.cu): a split-K partial launch, then a finish launch that
// adds the slices in a fixed order and applies the epilogue (and, for dlambda, one column sum of per-block partials).
// X or G may be bf16 / f16 (the partial kernel of that dtype reads it); a 16-bit R (Mo-SARA's frozen A) is widened into
// a float32 scratch first (lowrank.cu's header says why).
public sealed partial class CudaBackend
{
    /// <summary>
    /// How a rank-k product C[T, k] = L[T, d] R^T is cut: rank tiles of Kt (16, 32 or 64), token tiles of 4096 / Kt
    /// tokens, and Slices slices of d of Span elements each (a multiple of 32).
    /// </summary>
    internal readonly record struct RankProductPlan(int Kt, int TokenTiles, int RankTiles, int Slices, int Span)
    {
        public Dim3 Grid => new((uint)TokenTiles, (uint)RankTiles, (uint)Slices);
    }

    /// <summary>
    /// The smallest rank tile that holds k (k &gt; 64: tiles of 64); then the fewest slices of d that give the partial launch
    /// <see cref="TargetBlocks"/> blocks when the tiles alone do not. A function of (T, d, k) only.
    /// </summary>
    internal static RankProductPlan PlanRankProduct(int t, int d, int k)
    {
        var kt = k <= 16 ? 16 : k <= 32 ? 32 : 64;
        int tokenTiles = CeilDivInt(t, 4096 / kt), rankTiles = CeilDivInt(k, kt);
        var stages = CeilDivInt(d, 32);
        var want = CeilDivInt(TargetBlocks, (long)tokenTiles * rankTiles);
        var perSlice = Math.Max(1, stages / want);
        return new RankProductPlan(kt, tokenTiles, rankTiles, CeilDivInt(stages, perSlice), 32 * perSlice);
    }

    /// <summary>
    /// The finish kernels' walk over T x k: blocks of Lanes (a power of two up to 128, covering k) x 128 / Lanes threads,
    /// each block Rows tokens (a multiple of 128 / Lanes), so that the launch has <see cref="TargetBlocks"/> blocks when T allows.
    /// </summary>
    internal readonly record struct FinishPlan(int Lanes, int Rows, int RankBlocks, int RowBlocks)
    {
        public Dim3 Grid => new((uint)RankBlocks, (uint)RowBlocks);
        public Dim3 Block => new((uint)Lanes, (uint)(128 / Lanes));
    }

    internal static FinishPlan PlanFinish(int t, int k)
    {
        var lanes = (int)Math.Min(128, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)k));
        var groups = 128 / lanes;
        var rankBlocks = CeilDivInt(k, lanes);
        var want = CeilDivInt(TargetBlocks, rankBlocks);
        var rows = groups * Math.Max(1, t / (groups * want));
        return new FinishPlan(lanes, rows, rankBlocks, CeilDivInt(t, rows));
    }

    /// <summary>
    /// Launches the partial products of L (T x d, any dtype) against R (forward: B, k x d; backward: A, d x k; float32, or
    /// 16-bit widened here into a float32 scratch) into a new S x T x k buffer.
    /// </summary>
    private Tensor RankPartials(bool forward, Tensor l, Tensor r, int t, int d, int k, out int slices)
    {
        var p = PlanRankProduct(t, d, k);
        slices = p.Slices;
        using var wide = r.DType == DType.F32 ? null : Empty(r.Shape);
        if (wide is not null) ConvertCore(r, wide);
        var rf = wide ?? r;
        var part = Empty(p.Slices * t, k);
        Action<IKernelRuntime, Dim3, Dim3, uint, KernelPtr, KernelPtr, KernelPtr, int, int, int, int> launch = (forward, p.Kt, l.DType) switch
        {
            (true, 16, DType.F32) => Kernels.SaraLowrankFwdPartialK16,
            (true, 32, DType.F32) => Kernels.SaraLowrankFwdPartialK32,
            (true, _, DType.F32) => Kernels.SaraLowrankFwdPartialK64,
            (true, 16, DType.BF16) => Kernels.SaraLowrankFwdPartialK16Bf16,
            (true, 32, DType.BF16) => Kernels.SaraLowrankFwdPartialK32Bf16,
            (true, _, DType.BF16) => Kernels.SaraLowrankFwdPartialK64Bf16,
            (true, 16, _) => Kernels.SaraLowrankFwdPartialK16F16,
            (true, 32, _) => Kernels.SaraLowrankFwdPartialK32F16,
            (true, _, _) => Kernels.SaraLowrankFwdPartialK64F16,
            (false, 16, DType.F32) => Kernels.SaraLowrankBwdPartialK16,
            (false, 32, DType.F32) => Kernels.SaraLowrankBwdPartialK32,
            (false, _, DType.F32) => Kernels.SaraLowrankBwdPartialK64,
            (false, 16, DType.BF16) => Kernels.SaraLowrankBwdPartialK16Bf16,
            (false, 32, DType.BF16) => Kernels.SaraLowrankBwdPartialK32Bf16,
            (false, _, DType.BF16) => Kernels.SaraLowrankBwdPartialK64Bf16,
            (false, 16, _) => Kernels.SaraLowrankBwdPartialK16F16,
            (false, 32, _) => Kernels.SaraLowrankBwdPartialK32F16,
            (false, _, _) => Kernels.SaraLowrankBwdPartialK64F16,
        };
        launch(Runtime, p.Grid, Threads, 0, l, rf, part, t, d, k, p.Span);
        return part;
    }

    protected override void LowRankForwardCore(Tensor x, Tensor b, Tensor lambda, Tensor h, Tensor z)
    {
        int t = x.Rows, n = x.Cols, k = b.Rows;
        if (t == 0) return;
        using var part = RankPartials(true, x, b, t, n, k, out var slices);
        var f = PlanFinish(t, k);
        Kernels.SaraLowrankFwdFinish(Runtime, f.Grid, f.Block, 0, part, slices, lambda, h, z, t, k, f.Rows);
    }

    protected override void LowRankBackwardRankCore(Tensor g, Tensor a, Tensor? h, Tensor? lambda, float scale,
        Tensor? dz, Tensor? dh, Tensor? dlambda)
    {
        int t = g.Rows, m = g.Cols, k = a.Cols;
        if (t == 0)
        {
            if (dlambda is not null) Fill(dlambda, 0f);
            return;
        }
        using var part = RankPartials(false, g, a, t, m, k, out var slices);
        var f = PlanFinish(t, k);
        using var dlPart = dlambda is null ? null : Empty(f.RowBlocks, k);
        Kernels.SaraLowrankBwdFinish(Runtime, f.Grid, f.Block, 0, part, slices, h, lambda, scale, dz, dh, dlPart, t, k, f.Rows);
        if (dlPart is not null) ColumnSums(dlPart, f.RowBlocks, k, dlambda!, 0f);
    }
}
