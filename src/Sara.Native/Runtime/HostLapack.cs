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

    /// <summary>
    /// Thin QR of row-major a[m,n] in float64 (dgeqrf + dorgqr): a = q r with q[m,p] orthonormal columns and r[p,n]
    /// upper trapezoidal, p = min(m, n). <paramref name="a"/> is not modified.
    /// </summary>
    public static (double[] Q, double[] R) ThinQr(ReadOnlySpan<double> a, int m, int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(m, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (a.Length != (long)m * n) throw new ArgumentException($"a must hold {m} x {n} values; got {a.Length}", nameof(a));
        var p = Math.Min(m, n);
        var work = a.ToArray();
        var tau = new double[p];
        var r = new double[(long)p * n];
        var q = new double[(long)m * p];
        fixed (double* w = work, t = tau)
        {
            Lapacke.Check(Lapacke.Dgeqrf(Lapacke.RowMajor, m, n, (nint)w, n, (nint)t), "LAPACKE_dgeqrf");
            for (var i = 0; i < p; i++)
                for (var j = i; j < n; j++) r[(long)i * n + j] = w[(long)i * n + j];
            // Q is the leading m x p block once dorgqr has expanded the reflectors in place (lda stays n >= p).
            Lapacke.Check(Lapacke.Dorgqr(Lapacke.RowMajor, m, p, p, (nint)w, n, (nint)t), "LAPACKE_dorgqr");
            for (var i = 0; i < m; i++)
                for (var j = 0; j < p; j++) q[(long)i * p + j] = w[(long)i * n + j];
        }
        return (q, r);
    }

    /// <summary>
    /// SVD of row-major a[m,n] in float64 (dgesdd): a = u diag(s) vt, s descending, u[m,p], vt[p,n], p = min(m, n).
    /// <paramref name="a"/> is not modified.
    /// </summary>
    public static (double[] U, double[] S, double[] Vt) Svd(ReadOnlySpan<double> a, int m, int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(m, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (a.Length != (long)m * n) throw new ArgumentException($"a must hold {m} x {n} values; got {a.Length}", nameof(a));
        var p = Math.Min(m, n);
        var work = a.ToArray();
        var s = new double[p];
        var u = new double[(long)m * p];
        var vt = new double[(long)p * n];
        fixed (double* w = work, sp = s, up = u, vp = vt)
            Lapacke.Check(Lapacke.Dgesdd(Lapacke.RowMajor, (byte)'S', m, n, (nint)w, n, (nint)sp, (nint)up, p, (nint)vp, n), "LAPACKE_dgesdd");
        return (u, s, vt);
    }
}
