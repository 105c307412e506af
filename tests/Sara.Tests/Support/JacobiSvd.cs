using System.Numerics.Tensors;

namespace Sara.Tests.Support;

/// <summary>
/// The tests' own float64 SVD: one-sided (Hestenes) Jacobi. Columns of the matrix (of its transpose when it is wide) are
/// rotated in pairs until every pair is orthogonal to float64 rounding; the singular values are then the column norms, U the
/// normalised columns and V the accumulated rotations. Slow (O(n^2 m) per sweep) but short and independent of
/// LAPACK, cuSOLVER and the library's own Jacobi kernel, so it can judge all three. Checked against matrices built with
/// a known spectrum in JacobiSvdTests.
/// </summary>
public static class JacobiSvd
{
    /// <summary>Singular values of a row-major rows x cols matrix, descending.</summary>
    public static double[] Values(double[] a, int rows, int cols) => Compute(a, rows, cols).S;

    /// <summary>A = U diag(S) V^T: U rows x r, V cols x r (row-major, orthonormal columns), S descending, r = min(rows, cols).</summary>
    public static (double[] U, double[] S, double[] V) Compute(double[] a, int rows, int cols)
    {
        if (a.Length != (long)rows * cols) throw new ArgumentException($"{a.Length} elements for {rows} x {cols}.", nameof(a));
        var wide = cols > rows;
        // Work on a tall m x n matrix W (A, or A^T when A is wide), its columns stored contiguously.
        int m = wide ? cols : rows, n = wide ? rows : cols;
        var w = new double[n][];
        var v = new double[n][];
        for (var j = 0; j < n; j++)
        {
            w[j] = new double[m];
            for (var i = 0; i < m; i++) w[j][i] = wide ? a[(long)j * cols + i] : a[(long)i * cols + j];
            v[j] = new double[n];
            v[j][j] = 1;
        }
        // A pair counts as orthogonal when |w_p . w_q| <= tol |w_p| |w_q|: a few roundings of an m-term float64 dot product.
        var tol = 2.3e-16 * Math.Max(m, 16);
        for (var sweep = 0; ; sweep++)
        {
            if (sweep == 60) throw new InvalidOperationException("one-sided Jacobi did not converge in 60 sweeps");
            var rotated = false;
            for (var p = 0; p < n - 1; p++)
                for (var q = p + 1; q < n; q++)
                {
                    double alpha = TensorPrimitives.Dot<double>(w[p], w[p]), beta = TensorPrimitives.Dot<double>(w[q], w[q]);
                    double gamma = TensorPrimitives.Dot<double>(w[p], w[q]);
                    if (gamma == 0 || Math.Abs(gamma) <= tol * Math.Sqrt(alpha * beta)) continue;
                    rotated = true;
                    var zeta = (beta - alpha) / (2 * gamma);
                    var t = Math.Sign(zeta == 0 ? 1 : zeta) / (Math.Abs(zeta) + Math.Sqrt(1 + zeta * zeta));
                    var c = 1 / Math.Sqrt(1 + t * t);
                    Rotate(w[p], w[q], c, c * t);
                    Rotate(v[p], v[q], c, c * t);
                }
            if (!rotated) break;
        }
        var norms = w.Select(col => Math.Sqrt(TensorPrimitives.Dot<double>(col, col))).ToArray();
        var order = Enumerable.Range(0, n).OrderByDescending(j => norms[j]).ToArray();
        // Left vectors of W are its normalised columns, right vectors the rotations; for A = W^T they swap.
        var left = new double[(long)m * n];
        var right = new double[(long)n * n];
        var s = new double[n];
        for (var r = 0; r < n; r++)
        {
            var j = order[r];
            s[r] = norms[j];
            for (var i = 0; i < m; i++) left[(long)i * n + r] = norms[j] == 0 ? 0 : w[j][i] / norms[j];
            for (var i = 0; i < n; i++) right[(long)i * n + r] = v[j][i];
        }
        return wide ? (right, s, left) : (left, s, right);
    }

    private static void Rotate(double[] x, double[] y, double c, double s)
    {
        for (var i = 0; i < x.Length; i++)
        {
            var (xi, yi) = (x[i], y[i]);
            x[i] = c * xi - s * yi;
            y[i] = s * xi + c * yi;
        }
    }
}
