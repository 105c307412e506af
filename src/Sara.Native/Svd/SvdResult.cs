using Sara.Native.Tensors;

namespace Sara.Native.Svd;

/// <summary>W ~ U diag(S) Vt: U (m x k, orthonormal columns), S (k, descending), Vt (k x n, orthonormal rows).</summary>
public sealed class SvdResult : IDisposable
{
    internal SvdResult(Tensor u, float[] s, Tensor vt, int sketchWidth)
    {
        U = u;
        S = s;
        Vt = vt;
        SketchWidth = sketchWidth;
    }

    public Tensor U { get; }
    public float[] S { get; }
    public Tensor Vt { get; }

    /// <summary>l, the number of columns of the random sketch (k + oversampling, capped by min(m, n)).</summary>
    public int SketchWidth { get; }

    public int Rank => S.Length;

    public void Dispose()
    {
        U.Dispose();
        Vt.Dispose();
    }
}
