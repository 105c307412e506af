using System.Runtime.InteropServices;
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

    /// <summary>Elements converted per step by Upload/Download of 16-bit tensors (a stack buffer, no heap copy).</summary>
    private const int ConversionChunk = 4096;

    /// <summary>An uninitialised float32 tensor.</summary>
    public Tensor Empty(params int[] shape) => new(this, shape);

    /// <summary>An uninitialised tensor of <paramref name="dtype"/>.</summary>
    public Tensor Empty(DType dtype, params int[] shape) => new(this, shape, dtype);

    public Tensor FromArray(ReadOnlySpan<float> data, params int[] shape) => FromArray(data, DType.F32, shape);

    /// <summary>A tensor of <paramref name="dtype"/> holding <paramref name="data"/> (rounded to nearest even for 16-bit dtypes).</summary>
    public Tensor FromArray(ReadOnlySpan<float> data, DType dtype, params int[] shape)
    {
        var t = EmptyFor(data.Length, dtype, shape, nameof(data));
        Upload(t, data);
        return t;
    }

    /// <summary>A 16-bit tensor holding exactly these bits (e.g. bf16 weights as stored in a checkpoint).</summary>
    public Tensor FromBits(ReadOnlySpan<ushort> bits, DType dtype, params int[] shape)
    {
        Check.Is16Bit(dtype, nameof(dtype));
        var t = EmptyFor(bits.Length, dtype, shape, nameof(bits));
        UploadBytesCore(t, 0, MemoryMarshal.AsBytes(bits));
        return t;
    }

    /// <summary>An empty tensor of this shape, after checking that <paramref name="count"/> elements fill it exactly.</summary>
    private Tensor EmptyFor(int count, DType dtype, int[] shape, string name)
    {
        var t = Empty(dtype, shape);
        if (count == t.Length) return t;
        t.Dispose();
        throw new ArgumentException($"Data has {count} elements; shape [{string.Join(", ", shape)}] needs {t.Length}.", name);
    }

    public Tensor Zeros(params int[] shape) => Zeros(DType.F32, shape);

    /// <summary>A tensor of <paramref name="dtype"/> filled with +0 (all bits zero in every dtype).</summary>
    public Tensor Zeros(DType dtype, params int[] shape)
    {
        var t = Empty(dtype, shape);
        FillBitsCore(t, 0);
        return t;
    }

    /// <summary>Writes <paramref name="src"/> into dst, rounded to nearest even when dst is 16-bit.</summary>
    public void Upload(Tensor dst, ReadOnlySpan<float> src)
    {
        Check.Owned(this, dst, nameof(dst), any16: true);
        Check.Length(src.Length, dst.Length, nameof(src));
        if (dst.DType == DType.F32)
        {
            UploadBytesCore(dst, 0, MemoryMarshal.AsBytes(src));
            return;
        }
        // Rounded a chunk at a time: no second full-size copy on the host.
        Span<ushort> chunk = stackalloc ushort[ConversionChunk];
        for (var i = 0; i < src.Length; i += ConversionChunk)
        {
            var n = Math.Min(ConversionChunk, src.Length - i);
            Precision.Narrow(dst.DType, src.Slice(i, n), chunk[..n]);
            UploadBytesCore(dst, (long)i * 2, MemoryMarshal.AsBytes(chunk[..n]));
        }
    }

    /// <summary>
    /// Copies raw little-endian elements of dst's dtype into dst, starting <paramref name="byteOffset"/> bytes in (a
    /// multiple of the element size). This is how checkpoint bytes reach a tensor without a float32 copy: the source may
    /// be a memory-mapped file.
    /// </summary>
    public void UploadBytes(Tensor dst, ReadOnlySpan<byte> src, long byteOffset = 0)
    {
        CheckByteRange(dst, src.Length, byteOffset, nameof(dst));
        UploadBytesCore(dst, byteOffset, src);
    }

    /// <summary>Raw little-endian elements of src from <paramref name="byteOffset"/> (a multiple of the element size) into dst.</summary>
    public void DownloadBytes(Tensor src, Span<byte> dst, long byteOffset = 0)
    {
        CheckByteRange(src, dst.Length, byteOffset, nameof(src));
        DownloadBytesCore(src, byteOffset, dst);
    }

    /// <summary>count bytes at byteOffset must be whole elements of t, inside it.</summary>
    private void CheckByteRange(Tensor t, int count, long byteOffset, string name, [System.Runtime.CompilerServices.CallerMemberName] string op = "")
    {
        Check.Owned(this, t, name, any16: true, op);
        var size = t.DType.Size();
        if (byteOffset < 0 || byteOffset % size != 0 || count % size != 0 || byteOffset + count > t.Bytes)
            throw new ArgumentOutOfRangeException(nameof(byteOffset),
                $"{op}: {count} bytes at offset {byteOffset} are not whole {t.DType.Name()} elements inside {name} {t.Describe} ({t.Bytes} bytes).");
    }

    /// <summary>Reads src as float32 (16-bit values widened exactly).</summary>
    public void Download(Tensor src, Span<float> dst)
    {
        Check.Owned(this, src, nameof(src), any16: true);
        Check.Length(dst.Length, src.Length, nameof(dst));
        if (src.DType == DType.F32)
        {
            DownloadBytesCore(src, 0, MemoryMarshal.AsBytes(dst));
            return;
        }
        Span<ushort> chunk = stackalloc ushort[ConversionChunk];
        for (var i = 0; i < dst.Length; i += ConversionChunk)
        {
            var n = Math.Min(ConversionChunk, dst.Length - i);
            DownloadBytesCore(src, (long)i * 2, MemoryMarshal.AsBytes(chunk[..n]));
            Precision.Widen(src.DType, chunk[..n], dst.Slice(i, n));
        }
    }

    /// <summary>The raw bits of a 16-bit tensor.</summary>
    public void DownloadBits(Tensor src, Span<ushort> dst)
    {
        Check.Owned(this, src, nameof(src), any16: true);
        Check.Is16Bit(src.DType, nameof(src));
        Check.Length(dst.Length, src.Length, nameof(dst));
        DownloadBytesCore(src, 0, MemoryMarshal.AsBytes(dst));
    }

    /// <summary>dst = src (same shape and dtype; <see cref="Convert"/> changes the dtype).</summary>
    public void Copy(Tensor src, Tensor dst)
    {
        Check.Owned(this, src, nameof(src), any16: true);
        Check.SameShape(this, dst, src.Shape, nameof(dst), any16: true);
        if (dst.DType != src.DType)
            throw new ArgumentException($"Copy: dst is {dst.DType.Name()}, src is {src.DType.Name()}; use Convert to change the dtype.", nameof(dst));
        CopyCore(src, dst);
    }

    /// <summary>Every element of t = value (rounded to nearest even for a 16-bit t).</summary>
    public void Fill(Tensor t, float value)
    {
        Check.Owned(this, t, nameof(t), any16: true);
        FillBitsCore(t, t.DType == DType.F32 ? BitConverter.SingleToUInt32Bits(value) : Precision.To16(t.DType, value));
    }

    /// <summary>
    /// dst = src in dst's dtype (same shape, any dtypes): widening is exact, narrowing rounds to nearest even with
    /// PyTorch's bits (<see cref="Precision"/>). On the GPU and the emulator this is kernels/convert.cu.
    /// </summary>
    public void Convert(Tensor src, Tensor dst)
    {
        Check.Owned(this, src, nameof(src), any16: true);
        Check.SameShape(this, dst, src.Shape, nameof(dst), any16: true);
        if (src.DType == dst.DType) CopyCore(src, dst);
        else if (src.Length > 0) ConvertCore(src, dst);
    }

    /// <summary>
    /// c = alpha * op(a) op(b) + beta * c for 2-D tensors of any dtypes: 16-bit values are widened exactly, every sum
    /// accumulates in float32, and a 16-bit c is rounded once at the end (cublasGemmEx's CUBLAS_COMPUTE_32F math).
    /// </summary>
    public void Gemm(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha = 1f, float beta = 0f)
    {
        Check.Matrix(this, a, nameof(a), any16: true);
        Check.Matrix(this, b, nameof(b), any16: true);
        Check.Matrix(this, c, nameof(c), any16: true);
        var (m, ka) = transA ? (a.Cols, a.Rows) : (a.Rows, a.Cols);
        var (kb, n) = transB ? (b.Cols, b.Rows) : (b.Rows, b.Cols);
        if (ka != kb) throw new ArgumentException($"Inner dimensions differ: op(a) is {m}x{ka}, op(b) is {kb}x{n}.", nameof(b));
        Check.SameShape(this, c, [m, n], nameof(c), any16: true);
        Check.NotAliased(c, a, nameof(c), nameof(a));
        Check.NotAliased(c, b, nameof(c), nameof(b));
        GemmCore(a, transA, b, transB, c, alpha, beta);
    }

    /// <summary>y[r, :] += bias for every row r (a 16-bit y: float32 sum, one rounding).</summary>
    public void AddRowVector(Tensor y, Tensor bias)
    {
        Check.Matrix(this, y, nameof(y), any16: true);
        Check.Vector(this, bias, y.Cols, nameof(bias));
        AddRowVectorCore(y, bias);
    }

    /// <summary>sum[c] = beta * sum[c] + sum over rows of x[r, c], in a fixed order (deterministic); x may be a 16-bit activation.</summary>
    public void ColumnSum(Tensor x, Tensor sum, float beta = 0f)
    {
        Check.Matrix(this, x, nameof(x), any16: true);
        Check.Vector(this, sum, x.Cols, nameof(sum));
        ColumnSumCore(x, sum, beta);
    }

    /// <summary>y = a * x + b * y, elementwise, computed in float32 (x and y may be 16-bit activations: one rounding into y).</summary>
    public void Axpby(float a, Tensor x, float b, Tensor y)
    {
        Check.Owned(this, x, nameof(x), any16: true);
        Check.SameShape(this, y, x.Shape, nameof(y), any16: true);
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

    /// <summary>Raw bytes into dst at byteOffset (checked by the caller).</summary>
    protected abstract void UploadBytesCore(Tensor dst, long byteOffset, ReadOnlySpan<byte> src);
    /// <summary>Raw bytes of src from byteOffset (checked by the caller).</summary>
    protected abstract void DownloadBytesCore(Tensor src, long byteOffset, Span<byte> dst);
    /// <summary>Same shape and dtype: a byte copy.</summary>
    protected abstract void CopyCore(Tensor src, Tensor dst);
    /// <summary>Every element = bits (the low 16 bits for a 16-bit tensor).</summary>
    protected abstract void FillBitsCore(Tensor t, uint bits);
    /// <summary>Same shape, different dtypes, at least one element.</summary>
    protected abstract void ConvertCore(Tensor src, Tensor dst);
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
