using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Sara.Bindings;
using Sara.Native.Runtime;
using Sara.Native.Runtime.HostKernels;
using Sara.Native.Tensors;

namespace Sara.Native.Backends;

/// <summary>
/// The same ops in C#: System.Numerics.Tensors for vector work, OpenBLAS for GEMM (rank-k shapes on the AVX-512 kernels
/// of Runtime/HostKernels, see <see cref="HostBlas"/>), LAPACKE for the solvers.
/// The fallback without a GPU and the float32 reference in tests. Reductions run in a fixed order (deterministic).
/// </summary>
public sealed unsafe partial class CpuBackend : Backend
{
    public CpuBackend() : this(null) { }

    /// <param name="gpuUnavailableReason">Why the GPU was not used when this backend is the default's fallback; shown in <see cref="Description"/>.</param>
    public CpuBackend(string? gpuUnavailableReason) : base(new MemoryPool(HostMemory.Alloc, HostMemory.Free))
    {
        NativeLibraries.Load(Lib.OpenBlas);
        GpuUnavailableReason = gpuUnavailableReason;
    }

    public override string Name => "cpu";

    /// <summary>Why the default device is not the GPU, when this backend was chosen as the fallback; null when asked for by name.</summary>
    public string? GpuUnavailableReason { get; }

    public override string Description =>
        $"cpu ({Environment.ProcessorCount} cores, OpenBLAS {OpenBlas.GetNumThreads()} threads with its " +
        $"{System.Runtime.InteropServices.Marshal.PtrToStringUTF8(OpenBlas.GetCoreName())} kernels, rank-k GEMMs on " +
        (SkinnyGemm.Enabled ? "the AVX-512 kernels)" : "OpenBLAS)") +
        (GpuUnavailableReason is null ? "" : $"; GPU not used: {GpuUnavailableReason}");

    /// <summary>A float32 tensor's elements (a 16-bit tensor here would be read as the wrong type: refused).</summary>
    private static Span<float> S(Tensor t) => new((void*)F32(t).Ptr, checked((int)t.Length));

    private static Span<float> Row(Tensor t, int r) => new((void*)(F32(t).Ptr + (nint)r * t.Cols * sizeof(float)), t.Cols);

    private static Tensor F32(Tensor t) =>
        t.DType == DType.F32 ? t : throw new InvalidOperationException($"internal: a float32 view of a {t.Describe} tensor");

    public override void Synchronize() { }

    protected override void UploadBytesCore(Tensor dst, long byteOffset, ReadOnlySpan<byte> src) => HostMemory.CopyIn(dst.Ptr + (nint)byteOffset, src);

    protected override void DownloadBytesCore(Tensor src, long byteOffset, Span<byte> dst) => HostMemory.CopyOut(dst, src.Ptr + (nint)byteOffset);

    protected override void CopyCore(Tensor src, Tensor dst) => HostMemory.Copy(dst.Ptr, src.Ptr, src.Bytes);

    protected override void GemmCore(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha, float beta)
    {
        var k = transA ? a.Rows : a.Cols;
        if (a.DType == DType.F32 && b.DType == DType.F32 && c.DType == DType.F32)
            HostBlas.Sgemm(transA, transB, c.Rows, c.Cols, k, alpha, a.Ptr, GemmArgs.Leading(a.Cols), b.Ptr, GemmArgs.Leading(b.Cols),
                beta, c.Ptr, GemmArgs.Leading(c.Cols));
        else
            GemmMixedCore(transA, transB, c.Rows, c.Cols, k, alpha, Operand(a), Operand(b), beta, Operand(c));
    }

    protected override void AddRowVectorCore(Tensor y, Tensor bias)
    {
        if (y.DType != DType.F32)
        {
            var bias32 = S(bias).ToArray();
            ForEachRow16(y, row => TensorPrimitives.Add(row, bias32, row));
            return;
        }
        var b = S(bias);
        for (var r = 0; r < y.Rows; r++) TensorPrimitives.Add(Row(y, r), b, Row(y, r));
    }

    protected override void ColumnSumCore(Tensor x, Tensor sum, float beta)
    {
        var acc = new float[x.Cols];
        if (x.DType != DType.F32) ReadRows16(x, row => TensorPrimitives.Add(acc, row, acc));
        else for (var r = 0; r < x.Rows; r++) TensorPrimitives.Add(acc, Row(x, r), acc);
        var s = S(sum);
        if (beta == 0f) acc.CopyTo(s);
        else for (var c = 0; c < s.Length; c++) s[c] = beta * s[c] + acc[c];
    }

    protected override void AxpbyCore(float a, Tensor x, float b, Tensor y)
    {
        if (x.DType != DType.F32 || y.DType != DType.F32)
        {
            Axpby16(a, x, b, y);
            return;
        }
        Span<float> xs = S(x), ys = S(y);
        if (b == 0f) TensorPrimitives.Multiply(xs, a, ys);
        else for (var i = 0; i < ys.Length; i++) ys[i] = a * xs[i] + b * ys[i];
    }

    protected override void ScaleColumnsCore(Tensor x, Tensor v, Tensor y)
    {
        var vs = S(v);
        for (var r = 0; r < x.Rows; r++) TensorPrimitives.Multiply(Row(x, r), vs, Row(y, r));
    }

    protected override void ReluCore(Tensor x, Tensor y) => TensorPrimitives.Max(S(x), 0f, S(y));

    protected override void ReluBackwardCore(Tensor dy, Tensor y, Tensor dx, float beta)
    {
        Span<float> d = S(dy), ys = S(y), o = S(dx);
        for (var i = 0; i < o.Length; i++)
        {
            var g = ys[i] > 0f ? d[i] : 0f;
            o[i] = beta == 0f ? g : beta * o[i] + g;
        }
    }

    protected override float MseLossCore(Tensor pred, Tensor target, Tensor grad)
    {
        Span<float> p = S(pred), t = S(target), g = S(grad);
        var scale = 2f / p.Length;
        double sum = 0;
        for (var i = 0; i < p.Length; i++)
        {
            var d = p[i] - t[i];
            g[i] = scale * d;
            sum += (double)d * d;
        }
        return (float)(sum / p.Length);
    }

    protected override float SoftmaxCrossEntropyCore(Tensor logits, ReadOnlySpan<int> labels, Tensor grad)
    {
        var rows = logits.Rows;
        if (rows == 0) return 0f;
        double total = 0;
        var inv = 1f / rows;
        for (var r = 0; r < rows; r++)
        {
            Span<float> x = Row(logits, r), g = Row(grad, r);
            var max = TensorPrimitives.Max(x);
            float se = 0;
            for (var c = 0; c < x.Length; c++) se += MathF.Exp(x[c] - max);
            for (var c = 0; c < x.Length; c++) g[c] = (MathF.Exp(x[c] - max) / se - (c == labels[r] ? 1f : 0f)) * inv;
            total += MathF.Log(se) + max - x[labels[r]];
        }
        return (float)(total / rows);
    }

    protected override void AdamWCore(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWOptions o, int step)
    {
        var (bc1, bc2) = o.BiasCorrections(step);
        Span<float> p = S(param), g = S(grad), ms = S(m), vs = S(v);
        for (var i = 0; i < p.Length; i++)
        {
            var mi = o.Beta1 * ms[i] + (1f - o.Beta1) * g[i];
            var vi = o.Beta2 * vs[i] + (1f - o.Beta2) * g[i] * g[i];
            ms[i] = mi;
            vs[i] = vi;
            p[i] = p[i] * (1f - o.LearningRate * o.WeightDecay) - o.LearningRate * (mi / bc1) / (MathF.Sqrt(vi / bc2) + o.Epsilon);
        }
    }

    protected override void LowRankForwardCore(Tensor x, Tensor b, Tensor lambda, Tensor h, Tensor z)
    {
        GemmCore(x, false, b, true, h, 1f, 0f);
        ScaleColumnsCore(h, lambda, z);
    }

    protected override void LowRankBackwardRankCore(Tensor g, Tensor a, Tensor? h, Tensor? lambda, float scale,
        Tensor? dz, Tensor? dh, Tensor? dlambda)
    {
        using var scratch = dz is null ? Empty(g.Rows, a.Cols) : null;
        var dZ = dz ?? scratch!;
        GemmCore(g, false, a, false, dZ, scale, 0f);
        if (dh is not null) ScaleColumnsCore(dZ, lambda!, dh);
        if (dlambda is null) return;
        var acc = new float[a.Cols];
        var prod = new float[a.Cols];
        for (var r = 0; r < g.Rows; r++)
        {
            TensorPrimitives.Multiply(Row(dZ, r), Row(h!, r), prod);
            TensorPrimitives.Add(acc, prod, acc);
        }
        acc.CopyTo(S(dlambda));
    }
}
