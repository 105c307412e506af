using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Native.Layers;

/// <summary>
/// Dense layer Y = X W^T + b with a trainable weight (full fine-tuning): the baseline SARA is measured against.
/// The weight may be stored in 16 bits (the compute copy of mixed-precision training; its gradient is float32, and
/// AdamW, which updates float32 master weights only, refuses it).
/// </summary>
public sealed class Linear : IDisposable
{
    public Linear(Backend backend, float[] weight, int outFeatures, int inFeatures, float[]? bias = null, bool trainBias = true,
        DType weightType = DType.F32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        using var _ = TensorScope.Suspend();
        Weight = Variable.Parameter(backend.FromArray(weight, weightType, outFeatures, inFeatures), "weight");
        if (bias is not null)
        {
            var b = backend.FromArray(bias, outFeatures);
            Bias = trainBias ? Variable.Parameter(b, "bias") : new Variable(b, false, "bias");
        }
    }

    public Variable Weight { get; }
    public Variable? Bias { get; }
    public int OutFeatures => Weight.Value.Rows;
    public int InFeatures => Weight.Value.Cols;

    public IEnumerable<Variable> Parameters => Bias is { RequiresGrad: true } ? [Weight, Bias] : [Weight];

    public Variable Forward(Tape tape, Variable x)
    {
        var backend = Weight.Value.Backend;
        var y = DenseForward(backend, x.Value, Weight.Value, Bias?.Value);
        var output = new Variable(y, true);
        tape.Record(() =>
        {
            if (!output.HasGrad(tape)) return;
            var g = output.Grad!;
            var (dw, bw) = Weight.GradTarget(tape);
            backend.Gemm(g, true, x.Value, false, dw, 1f, bw);
            if (Bias is { RequiresGrad: true })
            {
                var (db, bb) = Bias.GradTarget(tape);
                backend.ColumnSum(g, db, bb);
            }
            if (x.RequiresGrad)
            {
                var (dx, bx) = x.GradTarget(tape);
                backend.Gemm(g, false, Weight.Value, false, dx, 1f, bx);
            }
        });
        return output;
    }

    /// <summary>Y = X W^T + b: this layer's forward and a merged SARA layer's (adapter layers use <see cref="DenseAccumulate"/>).</summary>
    internal static Tensor DenseForward(Backend backend, Tensor x, Tensor w, Tensor? bias)
    {
        CheckInput(x, w);
        var y = backend.Empty(x.DType, x.Rows, w.Rows);
        if (bias is null)
        {
            backend.Gemm(x, false, w, true, y);
            return y;
        }
        var sum = new Float32Accumulator(backend, y, 0f);   // a 16-bit Y is rounded once, after the bias
        backend.Gemm(x, false, w, true, sum.Sum);
        backend.AddRowVector(sum.Sum, bias);
        sum.Finish();
        return y;
    }

    /// <summary>
    /// Y += X W^T + b. Adapter layers write their rank-k term into Y first and let the large GEMM fold it in through
    /// beta = 1: one pass over Y instead of a second read-modify-write. With a zero adapter term the result is the
    /// same bits as <see cref="DenseForward"/> (0 + x = x).
    /// </summary>
    internal static void DenseAccumulate(Backend backend, Tensor x, Tensor w, Tensor? bias, Tensor y)
    {
        CheckInput(x, w);
        backend.Gemm(x, false, w, true, y, 1f, 1f);
        if (bias is not null) backend.AddRowVector(y, bias);
    }

    internal static void CheckInput(Tensor x, Tensor w)
    {
        if (x.Rank != 2 || x.Cols != w.Cols)
            throw new ArgumentException($"Input must be T x {w.Cols}; got {x.ShapeText}.", nameof(x));
    }

    public void Dispose()
    {
        Weight.Dispose();
        Bias?.Dispose();
    }
}
