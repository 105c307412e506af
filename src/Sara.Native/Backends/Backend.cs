using Sara.Native.Runtime;
using Sara.Native.Tensors;

namespace Sara.Native.Backends;

/// <summary>
/// The ops every device implements. Public methods validate arguments (same errors on every backend) and then call the
/// backend's *Core method. <see cref="CudaBackend"/> launches kernels on a kernel runtime (GPU or emulator);
/// <see cref="CpuBackend"/> implements the same ops in C# with OpenBLAS/LAPACKE.
/// </summary>
public abstract partial class Backend : IDisposable
{
    protected Backend(MemoryPool pool) => Pool = pool;

    internal MemoryPool Pool { get; }

    /// <summary>"cpu", "emu" or "cuda".</summary>
    public abstract string Name { get; }

    public abstract string Description { get; }

    public MemoryStats Memory => Pool.Stats;

    public Tensor Empty(params int[] shape) => new(this, shape);

    public Tensor FromArray(ReadOnlySpan<float> data, params int[] shape)
    {
        var t = Empty(shape);
        if (data.Length != t.Length)
        {
            t.Dispose();
            throw new ArgumentException($"Data has {data.Length} elements; shape [{string.Join(", ", shape)}] needs {t.Length}.", nameof(data));
        }
        Upload(t, data);
        return t;
    }

    public Tensor Zeros(params int[] shape)
    {
        var t = Empty(shape);
        Fill(t, 0f);
        return t;
    }

    public void Upload(Tensor dst, ReadOnlySpan<float> src)
    {
        Check.Owned(this, dst, nameof(dst));
        Check.Length(src.Length, dst.Length, nameof(src));
        UploadCore(dst, src);
    }

    public void Download(Tensor src, Span<float> dst)
    {
        Check.Owned(this, src, nameof(src));
        Check.Length(dst.Length, src.Length, nameof(dst));
        DownloadCore(src, dst);
    }

    public void Copy(Tensor src, Tensor dst)
    {
        Check.Owned(this, src, nameof(src));
        Check.SameShape(this, dst, src.Shape, nameof(dst));
        CopyCore(src, dst);
    }

    public void Fill(Tensor t, float value)
    {
        Check.Owned(this, t, nameof(t));
        FillCore(t, value);
    }

    /// <summary>c = alpha * op(a) op(b) + beta * c for 2-D tensors.</summary>
    public void Gemm(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha = 1f, float beta = 0f)
    {
        Check.Matrix(this, a, nameof(a));
        Check.Matrix(this, b, nameof(b));
        Check.Matrix(this, c, nameof(c));
        var (m, ka) = transA ? (a.Cols, a.Rows) : (a.Rows, a.Cols);
        var (kb, n) = transB ? (b.Cols, b.Rows) : (b.Rows, b.Cols);
        if (ka != kb) throw new ArgumentException($"Inner dimensions differ: op(a) is {m}x{ka}, op(b) is {kb}x{n}.", nameof(b));
        Check.SameShape(this, c, [m, n], nameof(c));
        Check.NotAliased(c, a, nameof(c), nameof(a));
        Check.NotAliased(c, b, nameof(c), nameof(b));
        GemmCore(a, transA, b, transB, c, alpha, beta);
    }

    /// <summary>y[r, :] += bias for every row r.</summary>
    public void AddRowVector(Tensor y, Tensor bias)
    {
        Check.Matrix(this, y, nameof(y));
        Check.Vector(this, bias, y.Cols, nameof(bias));
        AddRowVectorCore(y, bias);
    }

    /// <summary>sum[c] = beta * sum[c] + sum over rows of x[r, c], in a fixed order (deterministic).</summary>
    public void ColumnSum(Tensor x, Tensor sum, float beta = 0f)
    {
        Check.Matrix(this, x, nameof(x));
        Check.Vector(this, sum, x.Cols, nameof(sum));
        ColumnSumCore(x, sum, beta);
    }

    /// <summary>y = a * x + b * y, elementwise.</summary>
    public void Axpby(float a, Tensor x, float b, Tensor y)
    {
        Check.Owned(this, x, nameof(x));
        Check.SameShape(this, y, x.Shape, nameof(y));
        AxpbyCore(a, x, b, y);
    }

    /// <summary>y[r, c] = x[r, c] * v[c].</summary>
    public void ScaleColumns(Tensor x, Tensor v, Tensor y)
    {
        Check.Matrix(this, x, nameof(x));
        Check.Vector(this, v, x.Cols, nameof(v));
        Check.SameShape(this, y, x.Shape, nameof(y));
        ScaleColumnsCore(x, v, y);
    }

    /// <summary>Mean squared error over all elements; writes dLoss/dPred into grad.</summary>
    public float MseLoss(Tensor pred, Tensor target, Tensor grad)
    {
        Check.Owned(this, pred, nameof(pred));
        Check.SameShape(this, target, pred.Shape, nameof(target));
        Check.SameShape(this, grad, pred.Shape, nameof(grad));
        if (pred.Length == 0) throw new ArgumentException("Empty prediction.", nameof(pred));
        return MseLossCore(pred, target, grad);
    }

    /// <summary>Mean softmax cross-entropy of logits (T x C) against class labels; writes dLoss/dLogits into grad.</summary>
    public float SoftmaxCrossEntropy(Tensor logits, ReadOnlySpan<int> labels, Tensor grad)
    {
        Check.Matrix(this, logits, nameof(logits));
        Check.SameShape(this, grad, logits.Shape, nameof(grad));
        Check.Length(labels.Length, logits.Rows, nameof(labels));
        if (logits.Length == 0) throw new ArgumentException($"Empty logits {logits.ShapeText}: no rows to average over.", nameof(logits));
        foreach (var y in labels)
            if ((uint)y >= (uint)logits.Cols) throw new ArgumentOutOfRangeException(nameof(labels), $"Label {y} outside [0, {logits.Cols}).");
        return SoftmaxCrossEntropyCore(logits, labels, grad);
    }

    /// <summary>One AdamW step (decoupled weight decay, bias correction for 1-based <paramref name="step"/>).</summary>
    public void AdamW(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWOptions options, int step)
    {
        Check.Owned(this, param, nameof(param));
        Check.SameShape(this, grad, param.Shape, nameof(grad));
        Check.SameShape(this, m, param.Shape, nameof(m));
        Check.SameShape(this, v, param.Shape, nameof(v));
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        AdamWCore(param, grad, m, v, options, step);
    }

    /// <summary>
    /// One AdamW step for many tensors at once (<see cref="CudaBackend"/>: one kernel launch per up to 8 tensors).
    /// Each entry is checked as <see cref="AdamW(Tensor, Tensor, Tensor, Tensor, AdamWOptions, int)"/> checks it.
    /// </summary>
    public void AdamW(IReadOnlyList<AdamWTensor> tensors, AdamWOptions options, int step)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        foreach (var t in tensors)
        {
            Check.Owned(this, t.Param, nameof(tensors));
            Check.SameShape(this, t.Grad, t.Param.Shape, nameof(tensors));
            Check.SameShape(this, t.M, t.Param.Shape, nameof(tensors));
            Check.SameShape(this, t.V, t.Param.Shape, nameof(tensors));
        }
        AdamWBatchCore(tensors, options, step);
    }

    public abstract void Synchronize();

    protected abstract void UploadCore(Tensor dst, ReadOnlySpan<float> src);
    protected abstract void DownloadCore(Tensor src, Span<float> dst);
    protected abstract void CopyCore(Tensor src, Tensor dst);
    protected abstract void FillCore(Tensor t, float value);
    protected abstract void GemmCore(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha, float beta);
    protected abstract void AddRowVectorCore(Tensor y, Tensor bias);
    protected abstract void ColumnSumCore(Tensor x, Tensor sum, float beta);
    protected abstract void AxpbyCore(float a, Tensor x, float b, Tensor y);
    protected abstract void ScaleColumnsCore(Tensor x, Tensor v, Tensor y);
    protected abstract float MseLossCore(Tensor pred, Tensor target, Tensor grad);
    protected abstract float SoftmaxCrossEntropyCore(Tensor logits, ReadOnlySpan<int> labels, Tensor grad);
    protected abstract void AdamWCore(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWOptions options, int step);

    /// <summary>Default: one <see cref="AdamWCore"/> per tensor.</summary>
    protected virtual void AdamWBatchCore(IReadOnlyList<AdamWTensor> tensors, AdamWOptions options, int step)
    {
        foreach (var t in tensors) AdamWCore(t.Param, t.Grad, t.M, t.V, options, step);
    }

    public virtual void Dispose()
    {
        Pool.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>One parameter tensor of a batched AdamW step: the parameter, its gradient and its two moments (same shape).</summary>
public readonly record struct AdamWTensor(Tensor Param, Tensor Grad, Tensor M, Tensor V);

/// <summary>AdamW hyper-parameters.</summary>
public sealed record AdamWOptions(float LearningRate = 1e-3f, float Beta1 = 0.9f, float Beta2 = 0.999f,
    float Epsilon = 1e-8f, float WeightDecay = 0f)
{
    /// <summary>Throws naming the first option outside its range: a finite lr and decay >= 0, betas in [0, 1), epsilon > 0.</summary>
    public void Validate()
    {
        Require(float.IsFinite(LearningRate) && LearningRate >= 0, LearningRate, nameof(LearningRate), "finite and >= 0");
        Require(Beta1 is >= 0 and < 1, Beta1, nameof(Beta1), "in [0, 1)");
        Require(Beta2 is >= 0 and < 1, Beta2, nameof(Beta2), "in [0, 1)");
        Require(float.IsFinite(Epsilon) && Epsilon > 0, Epsilon, nameof(Epsilon), "finite and > 0");
        Require(float.IsFinite(WeightDecay) && WeightDecay >= 0, WeightDecay, nameof(WeightDecay), "finite and >= 0");
    }

    private static void Require(bool ok, float value, string name, string range)
    {
        if (!ok) throw new ArgumentOutOfRangeException(name, value, $"AdamW {name} must be {range}.");
    }

    public (float Bc1, float Bc2) BiasCorrections(int step) =>
        ((float)(1 - Math.Pow(Beta1, step)), (float)(1 - Math.Pow(Beta2, step)));
}
