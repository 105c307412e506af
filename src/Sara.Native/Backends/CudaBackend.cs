using System.Runtime.InteropServices;
using Sara.Native.Runtime;
using Sara.Native.Tensors;

namespace Sara.Native.Backends;

/// <summary>
/// Implements every op by launching the project's kernels and calling BLAS/solvers on a kernel runtime:
/// the real GPU (<see cref="GpuRuntime"/>) or the emulator (<see cref="EmulatedRuntime"/>). One backend, two runtimes.
/// </summary>
public sealed partial class CudaBackend : Backend
{
    private const int Threads = 256;

    /// <summary>A backend on <paramref name="runtime"/>, which it then owns (Dispose disposes it); tensors rent from the runtime's pool.</summary>
    public CudaBackend(IKernelRuntime runtime) : base(runtime.Pool)
        => Runtime = runtime;

    public IKernelRuntime Runtime { get; }

    public override string Name => Runtime.IsEmulated ? "emu" : "cuda";

    public override string Description => Runtime.Description;

    /// <summary>Grid size for grid-stride kernels: enough blocks to cover n, at most 1024.</summary>
    private static uint GridFor(long n) => (uint)Math.Clamp((n + Threads - 1) / Threads, 1, 1024);

    private static uint CeilDiv(int a, int b) => (uint)((a + b - 1) / b);

    private void Launch(string kernel, Dim3 grid, ReadOnlySpan<KernelArg> args) => Runtime.Launch(kernel, grid, Threads, 0, args);

    public override void Synchronize() => Runtime.Synchronize();

    protected override void UploadCore(Tensor dst, ReadOnlySpan<float> src) => Runtime.CopyToDevice(dst.Ptr, MemoryMarshal.AsBytes(src));

    protected override void DownloadCore(Tensor src, Span<float> dst) => Runtime.CopyToHost(MemoryMarshal.AsBytes(dst), src.Ptr);

    protected override void CopyCore(Tensor src, Tensor dst) => Runtime.CopyDeviceToDevice(dst.Ptr, src.Ptr, src.Length * sizeof(float));

    protected override void FillCore(Tensor t, float value) => Runtime.Memset32(t.Ptr, BitConverter.SingleToUInt32Bits(value), t.Length);

    protected override void GemmCore(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha, float beta)
    {
        var k = transA ? a.Rows : a.Cols;
        Runtime.Gemm(transA, transB, c.Rows, c.Cols, k, alpha, a.Ptr, GemmArgs.Leading(a.Cols), b.Ptr, GemmArgs.Leading(b.Cols),
            beta, c.Ptr, GemmArgs.Leading(c.Cols));
    }

    protected override void AddRowVectorCore(Tensor y, Tensor bias)
    {
        if (y.Length == 0) return;
        Launch("sara_add_row_vector", GridFor(y.Length), [y.Ptr, bias.Ptr, y.Rows, y.Cols]);
    }

    protected override void ColumnSumCore(Tensor x, Tensor sum, float beta)
    {
        if (x.Cols == 0) return;
        Launch("sara_column_sum", CeilDiv(x.Cols, 32), [x.Ptr, sum.Ptr, x.Rows, x.Cols, beta]);
    }

    protected override void AxpbyCore(float a, Tensor x, float b, Tensor y)
    {
        if (y.Length == 0) return;
        Launch("sara_axpby", GridFor(y.Length), [y.Ptr, x.Ptr, a, b, y.Length]);
    }

    protected override void ScaleColumnsCore(Tensor x, Tensor v, Tensor y)
    {
        if (y.Length == 0) return;
        Launch("sara_scale_columns", GridFor(y.Length), [y.Ptr, x.Ptr, v.Ptr, x.Rows, x.Cols]);
    }

    protected override void ReluCore(Tensor x, Tensor y)
    {
        if (y.Length == 0) return;
        Launch("sara_relu_fwd", GridFor(y.Length), [y.Ptr, x.Ptr, y.Length]);
    }

    protected override void ReluBackwardCore(Tensor dy, Tensor y, Tensor dx, float beta)
    {
        if (y.Length == 0) return;
        Launch("sara_relu_bwd", GridFor(y.Length), [dx.Ptr, dy.Ptr, y.Ptr, beta, y.Length]);
    }

    protected override float MseLossCore(Tensor pred, Tensor target, Tensor grad)
    {
        var blocks = GridFor(pred.Length);
        using var partial = Empty((int)blocks);
        using var loss = Empty(1);
        Launch("sara_mse_fwd_bwd", blocks, [pred.Ptr, target.Ptr, grad.Ptr, partial.Ptr, pred.Length]);
        Launch("sara_sum_partials", 1, [partial.Ptr, (int)blocks, 1f / pred.Length, loss.Ptr]);
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
        Launch("sara_softmax_xent", CeilDiv(t, 8), [logits.Ptr, labelBuffer.Ptr, grad.Ptr, lossRow.Ptr, t, c]);
        Launch("sara_sum_partials", 1, [lossRow.Ptr, t, 1f / t, loss.Ptr]);
        return loss.ToArray()[0];
    }

    protected override void AdamWCore(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWOptions o, int step)
    {
        if (param.Length == 0) return;
        var (bc1, bc2) = o.BiasCorrections(step);
        Launch("sara_adamw", GridFor(param.Length), [param.Ptr, grad.Ptr, m.Ptr, v.Ptr, param.Length,
            o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, o.WeightDecay, bc1, bc2]);
    }

    protected override void LowRankForwardCore(Tensor x, Tensor b, Tensor lambda, Tensor h, Tensor z)
    {
        int t = x.Rows, n = x.Cols, k = b.Rows;
        if (t == 0) return;
        Launch("sara_lowrank_fwd", new Dim3(CeilDiv(k, 32), CeilDiv(t, 64)), [x.Ptr, b.Ptr, lambda.Ptr, h.Ptr, z.Ptr, t, n, k]);
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
        var tokenBlocks = CeilDiv(t, 64);
        using var partial = dlambda is null ? null : Empty((int)tokenBlocks, k);
        Launch("sara_lowrank_bwd_rank", new Dim3(CeilDiv(k, 32), tokenBlocks),
            [g.Ptr, a.Ptr, h?.Ptr ?? 0, lambda?.Ptr ?? 0, scale, dz?.Ptr ?? 0, dh?.Ptr ?? 0, partial?.Ptr ?? 0, t, m, k]);
        if (partial is not null) ColumnSumCore(partial, dlambda!, 0f);
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
