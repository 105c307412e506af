using Sara.Native.Tensors;

namespace Sara.Native.Backends;

// Activation ops (kernels in kernels/elementwise.cu).
public abstract partial class Backend
{
    /// <summary>y = max(x, 0), elementwise.</summary>
    public void Relu(Tensor x, Tensor y)
    {
        Check.Owned(this, x, nameof(x));
        Check.SameShape(this, y, x.Shape, nameof(y));
        ReluCore(x, y);
    }

    /// <summary>dx = beta * dx + (y > 0 ? dy : 0), where y is the ReLU's output.</summary>
    public void ReluBackward(Tensor dy, Tensor y, Tensor dx, float beta = 0f)
    {
        Check.Owned(this, y, nameof(y));
        Check.SameShape(this, dy, y.Shape, nameof(dy));
        Check.SameShape(this, dx, y.Shape, nameof(dx));
        ReluBackwardCore(dy, y, dx, beta);
    }

    protected abstract void ReluCore(Tensor x, Tensor y);
    protected abstract void ReluBackwardCore(Tensor dy, Tensor y, Tensor dx, float beta);
}
