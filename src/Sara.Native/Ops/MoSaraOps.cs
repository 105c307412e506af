using Sara.Native.Backends;
using Sara.Native.Layers;
using Sara.Native.Tensors;

namespace Sara.Native.Ops;

/// <summary>
/// The Mo-SARA layer (DESIGN 1.3) as plain functions of tensors, for trainers with their own autograd and their own
/// memory (every argument may be an external tensor). <see cref="MoSaraLinear"/> is built on these. Shapes: x T x n and
/// y T x m (any dtype), w0 m x n (any dtype, frozen), bias m or null (frozen), a m x k and b k x n (frozen factors), wg
/// and lambdas E x k, bg E (trained, f32); saved activations h, lamEff, z T x k and gates T x E (f32).
/// </summary>
public static class MoSaraOps
{
    /// <summary>
    /// y = x w0^T + bias + s (h (.) lamEff) a^T with h = x b^T, gates = the router's softmax over the top
    /// <paramref name="topK"/> experts of h wg^T + bg, lamEff = gates lambdas. Writes h, gates, lamEff and z = h (.) lamEff
    /// for <see cref="Backward"/>. checkFinite: refuse non-finite router inputs (reads them back to the host).
    /// </summary>
    public static void Forward(Backend backend, Tensor x, Tensor w0, Tensor? bias, Tensor a, Tensor b, Tensor wg, Tensor bg,
        Tensor lambdas, int topK, float scale, Tensor y, Tensor h, Tensor gates, Tensor lamEff, Tensor z, bool checkFinite = false)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(y);
        Linear.CheckInput(x, w0);
        var sum = new Float32Accumulator(backend, y, 0f);   // a 16-bit y is rounded once, after all three terms
        RoutingOps.AdapterForward(backend, x, a, b, wg, bg, lambdas, topK, scale, sum.Sum, h, gates, lamEff, z, checkFinite, beta: 0f);
        Linear.DenseAccumulate(backend, x, w0, bias, sum.Sum);
        sum.Finish();
    }

    /// <summary>
    /// Given g = dL/dy (T x m) and the forward's h, gates and lamEff: dLambdas (E x k), dWg (E x k), dbg (E) through the
    /// router (balanceWeight adds the load-balancing loss's gradient, <see cref="Backend.RoutingBackward"/>) and, when
    /// asked, dX (T x n, x's dtype) = dH b + g w0. Gradients that are null are computed into scratch and dropped.
    /// </summary>
    public static void Backward(Backend backend, Tensor g, Tensor w0, Tensor a, Tensor b, Tensor h, Tensor wg, Tensor lambdas,
        Tensor gates, Tensor lamEff, int topK, float scale, float balanceWeight, GradOut? dX = null, GradOut? dLambdas = null,
        GradOut? dWg = null, GradOut? dbg = null, bool checkFinite = false)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(g);
        // The router's kernels overwrite their outputs: scratch where the caller accumulates or drops a gradient.
        using var sl = Scratch(backend, dLambdas, lambdas.Shape);
        using var sw = Scratch(backend, dWg, wg.Shape);
        using var sb = Scratch(backend, dbg, [wg.Rows]);
        var dx = dX is { } target ? new Float32Accumulator(backend, target.Tensor, target.Beta) : null;   // 16-bit dX: rounded once
        RoutingOps.AdapterBackward(backend, g, a, b, h, wg, lambdas, gates, lamEff, topK, scale, balanceWeight, dx?.Sum,
            sl ?? dLambdas!.Value.Tensor, sw ?? dWg!.Value.Tensor, sb ?? dbg!.Value.Tensor, checkFinite, dxBeta: dx?.FirstBeta ?? 0f);
        if (dx is not null)
        {
            // dX = dH b first; the large GEMM then folds g w0 in through beta = 1.
            backend.Gemm(g, false, w0, false, dx.Sum, 1f, 1f);
            dx.Finish();
        }
        AddScratch(backend, sl, dLambdas);
        AddScratch(backend, sw, dWg);
        AddScratch(backend, sb, dbg);
    }

    /// <summary>A scratch tensor unless the gradient is written straight into its target (beta 0).</summary>
    private static Tensor? Scratch(Backend backend, GradOut? target, int[] shape) =>
        target is { Beta: 0f } ? null : backend.Empty(shape);

    private static void AddScratch(Backend backend, Tensor? scratch, GradOut? target)
    {
        if (scratch is not null && target is { } t) backend.Axpby(1f, scratch, t.Beta, t.Tensor);
    }
}
