using Sara.Native.Backends;
using Sara.Native.Layers;
using Sara.Native.Tensors;

namespace Sara.Native.Ops;

/// <summary>
/// The SARA layer (DESIGN 1.2) as plain functions of tensors, for trainers with their own autograd and their own memory
/// (every argument may be an external tensor, <see cref="Backend.FromExternal"/>). <see cref="SaraLinear"/> is built on
/// these. Shapes: x and y T x n and T x m (any dtype; 16-bit sums accumulate in float32 and are rounded once), w0 m x n
/// (any dtype, frozen), bias m or null, a m x k, b k x n, lambda k, h and z T x k (saved activations); everything but
/// x, y, w0 and the activation gradients is f32. Nothing here synchronises with the host or copies to it.
/// </summary>
public static class SaraOps
{
    /// <summary>
    /// y = x w0^T + bias + s ((x b^T) (.) lambda) a^T. Writes h = x b^T and z = h (.) lambda, which
    /// <see cref="Backward"/> needs (keep them until then).
    /// </summary>
    public static void Forward(Backend backend, Tensor x, Tensor w0, Tensor? bias, Tensor a, Tensor b, Tensor lambda, float scale,
        Tensor y, Tensor h, Tensor z)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(y);
        Linear.CheckInput(x, w0);
        var sum = new Float32Accumulator(backend, y, 0f);   // a 16-bit y is rounded once, after all three terms
        // The adapter term first; the large GEMM then adds x w0^T into it (beta = 1), one pass over y.
        LowRankOps.AdapterForward(backend, x, a, b, lambda, scale, sum.Sum, h, z, beta: 0f);
        Linear.DenseAccumulate(backend, x, w0, bias, sum.Sum);
        sum.Finish();
    }

    /// <summary>
    /// Given g = dL/dy (T x m) and the forward's h and z: the gradients asked for (null: not formed). dLambda (k) = column
    /// sums of (s g a) (.) h; dA (m x k) = s g^T z; dB (k x n) = dH^T x with dH = (s g a) (.) lambda; dBias (m) = column sums
    /// of g; dX (T x n, x's dtype) = dH b + g w0. W0 never gets a gradient.
    /// </summary>
    public static void Backward(Backend backend, Tensor g, Tensor x, Tensor w0, Tensor a, Tensor b, Tensor lambda, Tensor h, Tensor z,
        float scale, GradOut? dX = null, GradOut? dLambda = null, GradOut? dA = null, GradOut? dB = null, GradOut? dBias = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(g);
        var needDh = dB is not null || dX is not null;
        using var dh = needDh ? backend.Empty(g.Rows, a.Cols) : null;
        if (dLambda is { } dl) dl.Write(backend, t => backend.LowRankBackwardRank(g, a, h, lambda, scale, null, dh, t));
        else if (needDh) backend.LowRankBackwardRank(g, a, h, lambda, scale, null, dh, null);
        if (dA is { } da) backend.Gemm(g, true, z, false, da.Tensor, scale, da.Beta);
        if (dB is { } db) backend.Gemm(dh!, true, x, false, db.Tensor, 1f, db.Beta);
        if (dBias is { } dbias) backend.ColumnSum(g, dbias.Tensor, dbias.Beta);
        if (dX is { } dx)
        {
            // The rank-k term first: the large GEMM then folds it in through beta = 1 (one pass over dX).
            var sum = new Float32Accumulator(backend, dx.Tensor, dx.Beta);
            backend.Gemm(dh!, false, b, false, sum.Sum, 1f, sum.FirstBeta);
            backend.Gemm(g, false, w0, false, sum.Sum, 1f, 1f);
            sum.Finish();
        }
    }
}
