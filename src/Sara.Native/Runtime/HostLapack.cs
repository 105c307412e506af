using Sara.Bindings;

namespace Sara.Native.Runtime;

/// <summary>Row-major dense solvers through LAPACKE, shared by the CPU backend and the emulated runtime.</summary>
public static unsafe class HostLapack
{
    /// <summary>SVD of row-major a[m,n] (destroyed): s descending; u[m,min(m,n)] and vt[min(m,n),n] when non-zero.</summary>
    public static void Gesvd(int m, int n, nint a, nint s, nint u, nint vt)
    {
        var r = Math.Min(m, n);
        if (r == 0) return;
        if (u == 0 && vt == 0)
        {
            Lapacke.Check(Lapacke.Sgesdd(Lapacke.RowMajor, (byte)'N', m, n, a, n, s, 0, Math.Max(1, m), 0, Math.Max(1, n)), "LAPACKE_sgesdd");
            return;
        }
        // jobz 'S' needs both factors; allocate the one the caller does not want.
        var uu = u != 0 ? u : HostMemory.Alloc((long)m * r * sizeof(float));
        var vv = vt != 0 ? vt : HostMemory.Alloc((long)r * n * sizeof(float));
        try
        {
            Lapacke.Check(Lapacke.Sgesdd(Lapacke.RowMajor, (byte)'S', m, n, a, n, s, uu, r, vv, n), "LAPACKE_sgesdd");
        }
        finally
        {
            if (u == 0) HostMemory.Free(uu);
            if (vt == 0) HostMemory.Free(vv);
        }
    }

    /// <summary>Lower Cholesky factor in place (upper triangle zeroed).</summary>
    public static void Potrf(int n, nint a)
    {
        Lapacke.Check(Lapacke.Spotrf(Lapacke.RowMajor, (byte)'L', n, a, n), "LAPACKE_spotrf");
        var p = (float*)a;
        for (var i = 0; i < n; i++)
            for (var j = i + 1; j < n; j++) p[(long)i * n + j] = 0f;
    }

    /// <summary>Eigenvalues ascending in w; eigenvectors as the columns of a.</summary>
    public static void Syevd(int n, nint a, nint w)
        => Lapacke.Check(Lapacke.Ssyevd(Lapacke.RowMajor, (byte)'V', (byte)'L', n, a, n, w), "LAPACKE_ssyevd");

    /// <summary>Float64: eigenvalues ascending in w; row i of a (the column-major i-th column) the eigenvector of w[i].</summary>
    public static void Dsyevd(int n, nint a, nint w)
        => Lapacke.Check(Lapacke.Dsyevd(Lapacke.ColMajor, (byte)'V', (byte)'L', n, a, n, w), "LAPACKE_dsyevd");
}
