using Sara.Native.Tensors;

namespace Sara.Native.Autograd;

/// <summary>
/// A tensor in the autograd graph. Parameters own a persistent gradient buffer; activations get one lazily
/// (inside the step's <see cref="TensorScope"/>). Gradients are written, not zeroed: the first write in a backward pass
/// overwrites (beta 0), later writes in the same pass accumulate (beta 1). A parameter's gradient is always float32 (master
/// weights, DESIGN 3.1); an activation's has the activation's dtype.
/// </summary>
public sealed class Variable : IDisposable
{
    private Tensor? _grad;
    private long _gradPass;
    private bool _isParameter;

    public Variable(Tensor value, bool requiresGrad = false, string? name = null)
    {
        Value = value;
        RequiresGrad = requiresGrad;
        Name = name;
    }

    /// <summary>A trainable parameter: its gradient buffer is allocated now, outside any scope.</summary>
    public static Variable Parameter(Tensor value, string name)
    {
        var p = new Variable(value, true, name) { _isParameter = true };
        using (TensorScope.Suspend()) p._grad = value.Backend.Empty(value.Shape);
        return p;
    }

    public Tensor Value { get; }
    public bool RequiresGrad { get; }

    /// <summary>float32 for parameters; the value's dtype for activations.</summary>
    private DType GradType => _isParameter ? DType.F32 : Value.DType;
    public string? Name { get; }

    /// <summary>The gradient from the latest backward pass that reached this variable (null before any).</summary>
    public Tensor? Grad => _gradPass == 0 ? null : _grad;

    /// <summary>True when <paramref name="tape"/>'s pass wrote this variable's gradient.</summary>
    public bool HasGrad(Tape tape) => _gradPass == tape.Pass;

    /// <summary>The buffer to write dLoss/dThis into and the beta to use (0 first time in this pass, then 1).</summary>
    public (Tensor Grad, float Beta) GradTarget(Tape tape)
    {
        _grad ??= Value.Backend.Empty(GradType, Value.Shape);
        var beta = _gradPass == tape.Pass ? 1f : 0f;
        _gradPass = tape.Pass;
        return (_grad, beta);
    }

    /// <summary>Adds <paramref name="grad"/> to this pass's gradient (the first write in the pass overwrites).</summary>
    public void AddToGrad(Tape tape, Tensor grad)
    {
        var (target, beta) = GradTarget(tape);
        Value.Backend.Axpby(1f, grad, beta, target);
    }

    /// <summary>
    /// For ops whose kernels write a gradient without a beta: <paramref name="write"/> fills the buffer it is given; on a
    /// second write in the same pass that buffer is a scratch tensor that is then added to the gradient.
    /// </summary>
    public void WriteGrad(Tape tape, Action<Tensor> write)
    {
        if (!HasGrad(tape))
        {
            write(GradTarget(tape).Grad);
            return;
        }
        using var scratch = Value.Backend.Empty(GradType, Value.Shape);
        write(scratch);
        AddToGrad(tape, scratch);
    }

    public void Dispose()
    {
        Value.Dispose();
        _grad?.Dispose();
    }

    public override string ToString() => $"{Name ?? "var"}{Value.ShapeText}{(RequiresGrad ? " (grad)" : "")}";
}
