using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Native.Layers;

/// <summary>Dense layer Y = X W^T + b with a trainable weight (full fine-tuning): the baseline SARA is measured against.</summary>
public sealed class Linear : IDisposable
{
    public Linear(Backend backend, float[] weight, int outFeatures, int inFeatures, float[]? bias = null, bool trainBias = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        using var _ = TensorScope.Suspend();
        Weight = Variable.Parameter(backend.FromArray(weight, outFeatures, inFeatures), "weight");
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

    /// <summary>Y = X W^T + b: the frozen path that SARA layers share with this baseline, so their outputs agree bit for bit.</summary>
    internal static Tensor DenseForward(Backend backend, Tensor x, Tensor w, Tensor? bias)
    {
        if (x.Rank != 2 || x.Cols != w.Cols)
            throw new ArgumentException($"Input must be T x {w.Cols}; got {x.ShapeText}.", nameof(x));
        var y = backend.Empty(x.Rows, w.Rows);
        backend.Gemm(x, false, w, true, y);
        if (bias is not null) backend.AddRowVector(y, bias);
        return y;
    }

    public void Dispose()
    {
        Weight.Dispose();
        Bias?.Dispose();
    }
}
