using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Native.Ops;

/// <summary>
/// The Mo-SARA adapter path beside the frozen dense GEMM (DESIGN 1.3), composed from backend ops. A Mo-SARA adapter
/// cannot be merged into W0: its scaling depends on the input through the router.
/// </summary>
public static class RoutingOps
{
    /// <summary>
    /// H = X B^T (BLAS), the fused router (gates, lamEff, Z = H (.) lamEff), then Y = beta Y + s Z A^T (BLAS):
    /// beta = 1 adds to a dense output already in y, beta = 0 writes the adapter term alone. x: T x n, a: m x k, b: k x n, wg and lambdas: E x k, bg: E;
    /// h, lamEff, z (T x k) and gates (T x E) receive the activations the backward needs.
    /// </summary>
    public static void AdapterForward(Backend backend, Tensor x, Tensor a, Tensor b, Tensor wg, Tensor bg, Tensor lambdas,
        int topK, float scale, Tensor y, Tensor h, Tensor gates, Tensor lamEff, Tensor z, bool checkFinite = false,
        float beta = 1f)
    {
        backend.Gemm(x, false, b, true, h);
        backend.RoutingForward(h, wg, bg, lambdas, topK, gates, lamEff, z, checkFinite);
        backend.Gemm(z, false, a, true, y, scale, beta);
    }

    /// <summary>
    /// Given G = dL/dY (T x m): dZ = s G A (fused kernel), the router backward (dH, dLambdas, dWg, dbg; balanceWeight
    /// adds the load-balancing loss), then dX = dxBeta dX + dH B when dx is given. A and B are frozen.
    /// </summary>
    public static void AdapterBackward(Backend backend, Tensor g, Tensor a, Tensor b, Tensor h, Tensor wg, Tensor lambdas,
        Tensor gates, Tensor lamEff, int topK, float scale, float balanceWeight, Tensor? dx, Tensor dLambdas, Tensor dWg, Tensor dbg,
        bool checkFinite = false, float dxBeta = 1f)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(h);
        using var dz = backend.Empty(h.Rows, h.Cols);
        using var dh = backend.Empty(h.Rows, h.Cols);
        backend.LowRankBackwardRank(g, a, null, null, scale, dz, null, null);
        backend.RoutingBackward(dz, h, wg, lambdas, gates, lamEff, topK, balanceWeight, dh, dLambdas, dWg, dbg, checkFinite);
        if (dx is not null) backend.Gemm(dh, false, b, false, dx, 1f, dxBeta);
    }
}
