using Sara.Native.Tensors;

namespace Sara.Native.Backends;

// SARA's rank-k ops (DESIGN 1.2); kernels in kernels/lowrank.cu.
public abstract partial class Backend
{
    /// <summary>
    /// H = X B^T (T x k) and Z = H (.) lambda, in one fused pass. x: T x n (f32, or a 16-bit activation), b: k x n,
    /// lambda: k; h and z are f32.
    /// </summary>
    public void LowRankForward(Tensor x, Tensor b, Tensor lambda, Tensor h, Tensor z)
    {
        Check.Matrix(this, x, nameof(x), any16: true);
        Check.Matrix(this, b, nameof(b));
        Check.Rank(b.Rows, nameof(b));
        if (b.Cols != x.Cols) throw new ArgumentException($"b must be k x {x.Cols} (n of x); got {b.ShapeText}.", nameof(b));
        Check.Vector(this, lambda, b.Rows, nameof(lambda));
        Check.SameShape(this, h, [x.Rows, b.Rows], nameof(h));
        Check.SameShape(this, z, [x.Rows, b.Rows], nameof(z));
        LowRankForwardCore(x, b, lambda, h, z);
    }

    /// <summary>
    /// dZ = s G A; dH = dZ (.) lambda; dlambda = column sums of dZ (.) H — one pass over G (T x m), A: m x k.
    /// Outputs that are null are not formed (dH needs lambda; dlambda needs h). g may be a 16-bit activation gradient
    /// and a a frozen 16-bit factor (Mo-SARA); everything else is f32.
    /// </summary>
    public void LowRankBackwardRank(Tensor g, Tensor a, Tensor? h, Tensor? lambda, float scale,
        Tensor? dz, Tensor? dh, Tensor? dlambda)
    {
        Check.Matrix(this, g, nameof(g), any16: true);
        Check.Matrix(this, a, nameof(a), any16: true);
        Check.Rank(a.Cols, nameof(a));
        if (a.Rows != g.Cols) throw new ArgumentException($"a must be {g.Cols} x k (m of g); got {a.ShapeText}.", nameof(a));
        int[] tk = [g.Rows, a.Cols];
        if (h is not null) Check.SameShape(this, h, tk, nameof(h));
        if (lambda is not null) Check.Vector(this, lambda, a.Cols, nameof(lambda));
        if (dz is not null) Check.SameShape(this, dz, tk, nameof(dz));
        if (dh is not null)
        {
            Check.SameShape(this, dh, tk, nameof(dh));
            if (lambda is null) throw new ArgumentNullException(nameof(lambda), "dh needs lambda.");
        }
        if (dlambda is not null)
        {
            Check.Vector(this, dlambda, a.Cols, nameof(dlambda));
            if (h is null) throw new ArgumentNullException(nameof(h), "dlambda needs h.");
        }
        LowRankBackwardRankCore(g, a, h, lambda, scale, dz, dh, dlambda);
    }

    protected abstract void LowRankForwardCore(Tensor x, Tensor b, Tensor lambda, Tensor h, Tensor z);

    protected abstract void LowRankBackwardRankCore(Tensor g, Tensor a, Tensor? h, Tensor? lambda, float scale,
        Tensor? dz, Tensor? dh, Tensor? dlambda);
}
