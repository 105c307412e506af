namespace Sara.Tests.Support;

/// <summary>Random matrices with orthonormal columns (float64 modified Gram–Schmidt, applied twice), row-major rows x cols.</summary>
public static class Orthonormal
{
    public static double[] Columns(Rand r, int rows, int cols)
    {
        var q = new double[rows * cols];
        for (var i = 0; i < q.Length; i++) q[i] = r.Gauss();
        for (var pass = 0; pass < 2; pass++)
            for (var j = 0; j < cols; j++)
            {
                for (var p = 0; p < j; p++)
                {
                    double dot = 0;
                    for (var i = 0; i < rows; i++) dot += q[i * cols + p] * q[i * cols + j];
                    for (var i = 0; i < rows; i++) q[i * cols + j] -= dot * q[i * cols + p];
                }
                double norm = 0;
                for (var i = 0; i < rows; i++) norm += q[i * cols + j] * q[i * cols + j];
                norm = Math.Sqrt(norm);
                for (var i = 0; i < rows; i++) q[i * cols + j] /= norm;
            }
        return q;
    }
}
