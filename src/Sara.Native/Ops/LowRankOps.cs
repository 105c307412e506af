using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Native.Ops;

/// <summary>The SARA adapter path beside the frozen dense GEMM (DESIGN 1.2), composed from backend ops.</summary>
public static class LowRankOps
{
    /// <summary>
    /// H = X B^T, Z = H (.) lambda (one fused kernel), then Y = beta Y + s Z A^T (BLAS): beta = 1 adds to a dense output
    /// already in y, beta = 0 writes the adapter term alone (the layers then fold the dense GEMM in).
    /// x: T x n, a: m x k, b: k x n, lambda: k, y: T x m; h and z (T x k) receive the saved activations.
    /// </summary>
    public static void AdapterForward(Backend backend, Tensor x, Tensor a, Tensor b, Tensor lambda, float scale,
        Tensor y, Tensor h, Tensor z, float beta = 1f)
    {
        backend.LowRankForward(x, b, lambda, h, z);
        backend.Gemm(z, false, a, true, y, scale, beta);
    }
}
