using System.Runtime.InteropServices;
using Sara.Native.Runtime;
using Sara.Native.Tensors;

namespace Sara.Native.Backends;

/// <summary>
/// Implements every op by launching the project's kernels and calling BLAS/solvers on a kernel runtime:
/// the real GPU (<see cref="GpuRuntime"/>) or the emulator (<see cref="EmulatedRuntime"/>). One backend, two runtimes.
/// Every launch goes through the typed launchers of <see cref="Kernels"/> (checked against the kernel sources).
/// </summary>
public sealed partial class CudaBackend : Backend
{
    private const int Threads = 256;

    /// <summary>
    /// Blocks a launch that moves more than 1 MB gets at least (launch census, bench/README.md): two waves on the 132 SMs
    /// of an H200. Work splits are chosen from the shape and this constant only, never from the device, so the bits of
    /// every result are the same on any GPU and on the emulator.
    /// </summary>
    internal const int TargetBlocks = 264;

    /// <summary>A backend on <paramref name="runtime"/>, which it then owns (Dispose disposes it); tensors rent from the runtime's pool.</summary>
    public CudaBackend(IKernelRuntime runtime) : base(runtime.Pool)
        => Runtime = runtime;

    public IKernelRuntime Runtime { get; }

    public override string Name => Runtime.IsEmulated ? "emu" : "cuda";

    public override string Description => Runtime.Description;

    /// <summary>Grid size for grid-stride kernels: enough blocks to cover n, at most 1024.</summary>
    private static uint GridFor(long n) => (uint)Math.Clamp((n + Threads - 1) / Threads, 1, 1024);

    private static uint CeilDiv(int a, int b) => (uint)((a + b - 1) / b);

    private static int CeilDivInt(long a, long b) => checked((int)((a + b - 1) / b));

    public override void Synchronize() => Runtime.Synchronize();

    protected override void UploadBytesCore(Tensor dst, long byteOffset, ReadOnlySpan<byte> src) => Runtime.CopyToDevice(dst.Ptr + (nint)byteOffset, src);

    protected override void DownloadBytesCore(Tensor src, long byteOffset, Span<byte> dst) => Runtime.CopyToHost(dst, src.Ptr + (nint)byteOffset);

    protected override void CopyCore(Tensor src, Tensor dst) => Runtime.CopyDeviceToDevice(dst.Ptr, src.Ptr, src.Bytes);

    protected override void GemmCore(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha, float beta)
    {
        var k = transA ? a.Rows : a.Cols;
        if (a.DType == DType.F32 && b.DType == DType.F32 && c.DType == DType.F32)
            Runtime.Gemm(transA, transB, c.Rows, c.Cols, k, alpha, a.Ptr, GemmArgs.Leading(a.Cols), b.Ptr, GemmArgs.Leading(b.Cols),
                beta, c.Ptr, GemmArgs.Leading(c.Cols));
        else Gemm16(a, transA, b, transB, c, k, alpha, beta);
    }

    protected override void AddRowVectorCore(Tensor y, Tensor bias)
    {
        if (y.Length == 0) return;
        if (y.DType == DType.F32) Kernels.SaraAddRowVector(Runtime, GridFor(y.Length), Threads, 0, y, bias, y.Rows, y.Cols);
        else Kernels.SaraAddRowVector16(Runtime, GridFor(y.Length), Threads, 0, y, (int)y.DType, bias, y.Rows, y.Cols);
    }

    protected override void ColumnSumCore(Tensor x, Tensor sum, float beta) => ColumnSums(x, x.Rows, x.Cols, sum, beta);

    /// <summary>How a column sum over rows x cols is cut: row slices of <c>Slice</c> rows (Slices of them; 1: no finish).</summary>
    internal readonly record struct ColumnSumPlan(bool Narrow, int ColumnTiles, int Slice, int Slices);

    /// <summary>
    /// One slice when x is under 256 KB (one launch, no partials); else the fewest row slices that give the launch
    /// <see cref="TargetBlocks"/> blocks. <paramref name="vec4"/>: the kernel reads 4 columns per lane (cols % 4 == 0, aligned).
    /// </summary>
    internal static ColumnSumPlan PlanColumnSum(int rows, int cols, bool vec4)
    {
        var narrow = cols < 32;
        var tiles = narrow ? 1 : CeilDivInt(cols, 32 * (vec4 ? 4 : 1));
        if (rows == 0 || 4L * rows * cols <= 256 * 1024) return new ColumnSumPlan(narrow, tiles, Math.Max(rows, 1), 1);
        var want = CeilDivInt(TargetBlocks, tiles);
        var slice = Math.Max(1, rows / want);
        return new ColumnSumPlan(narrow, tiles, slice, CeilDivInt(rows, slice));
    }

    /// <summary>sum[c] = beta * sum[c] + column sums of x (rows x cols, row-major, any dtype; float32 sums), in a fixed order.</summary>
    private void ColumnSums(Tensor x, int rows, int cols, Tensor sum, float beta)
    {
        if (cols == 0) return;
        var p = PlanColumnSum(rows, cols, cols % 4 == 0 && x.Ptr % 16 == 0);
        using var part = p.Slices > 1 ? Empty(p.Slices, cols) : null;
        var grid = new Dim3((uint)p.ColumnTiles, (uint)p.Slices);
        switch (p.Narrow, x.DType)
        {
            case (true, DType.F32): Kernels.SaraColumnSumNarrow(Runtime, grid, Threads, 0, x, sum, part, rows, cols, p.Slice, beta); break;
            case (true, DType.BF16): Kernels.SaraColumnSumNarrowBf16(Runtime, grid, Threads, 0, x, sum, part, rows, cols, p.Slice, beta); break;
            case (true, _): Kernels.SaraColumnSumNarrowF16(Runtime, grid, Threads, 0, x, sum, part, rows, cols, p.Slice, beta); break;
            case (false, DType.F32): Kernels.SaraColumnSum(Runtime, grid, Threads, 0, x, sum, part, rows, cols, p.Slice, beta); break;
            case (false, DType.BF16): Kernels.SaraColumnSumBf16(Runtime, grid, Threads, 0, x, sum, part, rows, cols, p.Slice, beta); break;
            default: Kernels.SaraColumnSumF16(Runtime, grid, Threads, 0, x, sum, part, rows, cols, p.Slice, beta); break;
        }
        if (part is not null) Kernels.SaraColumnSumFinish(Runtime, CeilDiv(cols, Threads), Threads, 0, part, p.Slices, sum, cols, beta);
    }

    protected override void AxpbyCore(float a, Tensor x, float b, Tensor y)
    {
        if (y.Length == 0) return;
        if (x.DType == DType.F32 && y.DType == DType.F32) Kernels.SaraAxpby(Runtime, GridFor(y.Length), Threads, 0, y, x, a, b, y.Length);
        else Kernels.SaraAxpbyTyped(Runtime, GridFor(y.Length), Threads, 0, y, (int)y.DType, x, (int)x.DType, a, b, y.Length);
    }

    protected override void ScaleColumnsCore(Tensor x, Tensor v, Tensor y)
    {
        if (y.Length == 0) return;
        Kernels.SaraScaleColumns(Runtime, GridFor(y.Length), Threads, 0, y, x, v, x.Rows, x.Cols);
    }

    protected override void ReluCore(Tensor x, Tensor y)
    {
        if (y.Length == 0) return;
        Kernels.SaraReluFwd(Runtime, GridFor(y.Length), Threads, 0, y, x, y.Length);
    }

    protected override void ReluBackwardCore(Tensor dy, Tensor y, Tensor dx, float beta)
    {
        if (y.Length == 0) return;
        Kernels.SaraReluBwd(Runtime, GridFor(y.Length), Threads, 0, dx, dy, y, beta, y.Length);
    }

    protected override float MseLossCore(Tensor pred, Tensor target, Tensor grad)
    {
        var blocks = GridFor(pred.Length);
        using var partial = Empty((int)blocks);
        using var loss = Empty(1);
        Kernels.SaraMseFwdBwd(Runtime, blocks, Threads, 0, pred, target, grad, partial, pred.Length);
        Kernels.SaraSumPartials(Runtime, 1, Threads, 0, partial, (int)blocks, 1f / pred.Length, loss);
        return loss.ToArray()[0];
    }

    protected override float SoftmaxCrossEntropyCore(Tensor logits, ReadOnlySpan<int> labels, Tensor grad)
    {
        int t = logits.Rows, c = logits.Cols;
        if (t == 0) return 0f;
        using var labelBuffer = Empty(t);   // int32 bits in a 4-byte-per-element buffer
        Runtime.CopyToDevice(labelBuffer.Ptr, MemoryMarshal.AsBytes(labels));
        using var lossRow = Empty(t);
        using var loss = Empty(1);
        Kernels.SaraSoftmaxXent(Runtime, CeilDiv(t, 8), Threads, 0, logits, labelBuffer, grad, lossRow, t, c);
        Kernels.SaraSumPartials(Runtime, 1, Threads, 0, lossRow, t, 1f / t, loss);
        return loss.ToArray()[0];
    }

    protected override void AdamWCore(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWOptions o, int step)
        => AdamWBatchCore([new AdamWTensor(param, grad, m, v)], o, step);

    private const int AdamWThreads = 128;

    /// <summary>
    /// Elements per block of a batched AdamW launch over <paramref name="total"/> elements: a multiple of 128 chosen from
    /// the total alone, so that any batch over 264 x 128 elements gets >= <see cref="TargetBlocks"/> blocks.
    /// </summary>
    internal static int AdamWChunk(long total) => AdamWThreads * (int)Math.Clamp(total / ((long)TargetBlocks * AdamWThreads), 1, 64);

    protected override unsafe void AdamWBatchCore(IReadOnlyList<AdamWTensor> tensors, AdamWOptions o, int step)
    {
        var (bc1, bc2) = o.BiasCorrections(step);
        var live = tensors.Where(t => t.Param.Length > 0).ToArray();
        for (var start = 0; start < live.Length; start += AdamWSizes.Capacity)
        {
            var part = live.AsSpan(start, Math.Min(AdamWSizes.Capacity, live.Length - start)).ToArray();
            long total = 0;
            foreach (var t in part) total += t.Param.Length;
            var sizes = new AdamWSizes { Count = part.Length, Chunk = AdamWChunk(total) };
            var blocks = 0;
            for (var i = 0; i < part.Length; i++)
            {
                sizes.N[i] = part[i].Param.Length;
                sizes.FirstBlock[i] = blocks;
                blocks = checked(blocks + CeilDivInt(part[i].Param.Length, sizes.Chunk));
            }
            sizes.FirstBlock[part.Length] = blocks;
            // Tensor i's buffers (null past the batch's count: the kernel never reads them).
            Tensor? P(int i) => i < part.Length ? part[i].Param : null;
            Tensor? G(int i) => i < part.Length ? part[i].Grad : null;
            Tensor? M(int i) => i < part.Length ? part[i].M : null;
            Tensor? V(int i) => i < part.Length ? part[i].V : null;
            Kernels.SaraAdamwBatch(Runtime, (uint)blocks, AdamWThreads, 0,
                P(0), G(0), M(0), V(0), P(1), G(1), M(1), V(1), P(2), G(2), M(2), V(2), P(3), G(3), M(3), V(3),
                P(4), G(4), M(4), V(4), P(5), G(5), M(5), V(5), P(6), G(6), M(6), V(6), P(7), G(7), M(7), V(7),
                sizes, o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, o.WeightDecay, bc1, bc2);
        }
    }

    /// <summary>
    /// Disposes the runtime, which owns the pool: it waits for its stream, frees the pool's blocks and releases its handles
    /// and context, going on past failures. After a sticky device fault it does not throw, so the exception that reported
    /// the fault (e.g. one unwinding through a <c>using</c>) is the one the caller sees.
    /// </summary>
    public override void Dispose()
    {
        Runtime.Dispose();
        GC.SuppressFinalize(this);
    }
}
