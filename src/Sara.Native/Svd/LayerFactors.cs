using Sara.Native.Tensors;

namespace Sara.Native.Svd;

/// <summary>
/// One layer's rank and SARA factors from one truncated SVD (<see cref="RankPlanner.Factorize"/>): A = U_k (m x k),
/// B = V_k^T (k x n), the singular values the rank was read from, and the plan entry. Owns A and B.
/// </summary>
public sealed class LayerFactors(LayerRank rank, Tensor a, Tensor b, float[] singularValues) : IDisposable
{
    public LayerRank Rank { get; } = rank;
    public Tensor A { get; } = a;
    public Tensor B { get; } = b;

    /// <summary>The values the rank was read from: all min(m, n) when exact, else the leading min(KMax, m, n).</summary>
    public float[] SingularValues { get; } = singularValues;

    public void Dispose()
    {
        A.Dispose();
        B.Dispose();
    }
}
