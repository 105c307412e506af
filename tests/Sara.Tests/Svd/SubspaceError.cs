using Sara.Tests.Support;

namespace Sara.Tests.Svd;

/// <summary>Distance between the column spaces of two m x k matrices with orthonormal columns, in float64.</summary>
public static class SubspaceError
{
    /// <summary>
    /// ||U U^T - Q Q^T|| in the spectral and Frobenius norms, from R = (I - Q Q^T) U (no cancellation for small angles):
    /// spectral = sigma_max(R) = sin(largest principal angle), Frobenius = sqrt(2) ||R||_F.
    /// u: m x k (row-major), q: m x qCols (row-major) of which the first k columns are used.
    /// </summary>
    public static (double Frobenius, double Spectral) Of(double[] u, double[] q, int m, int k, int qCols)
    {
        var qtu = new double[k * k];
        for (var i = 0; i < m; i++)
            for (var p = 0; p < k; p++)
            {
                var qv = q[(long)i * qCols + p];
                for (var j = 0; j < k; j++) qtu[p * k + j] += qv * u[(long)i * k + j];
            }
        var r = (double[])u.Clone();
        for (var i = 0; i < m; i++)
            for (var p = 0; p < k; p++)
            {
                var qv = q[(long)i * qCols + p];
                for (var j = 0; j < k; j++) r[(long)i * k + j] -= qv * qtu[p * k + j];
            }
        var fro = Math.Sqrt(2 * r.Sum(v => v * v));
        return (fro, SingularValues(r, m, k)[0]);
    }

    /// <summary>All singular values of a rows x cols float64 matrix, descending: the tests' own Jacobi (<see cref="JacobiSvd"/>), not LAPACK.</summary>
    public static double[] SingularValues(double[] a, int rows, int cols) => JacobiSvd.Values(a, rows, cols);
}
