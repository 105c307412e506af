// BenchData.cs — deterministic random inputs for the benchmarks (fixed seeds: every run times the same numbers).
using Sara.Bindings;
using Sara.Native.Tensors;

namespace Sara.Bench;

public static class BenchData
{
    private static readonly Dictionary<(int, int), (float[] W, double[] S)> SpectrumCache = new();

    /// <summary>
    /// n x n W = U diag(s) V^T with s_i = i^-a and Haar-random orthogonal U, V (eigenvectors of random symmetric
    /// matrices, LAPACKE ssyevd): a known, slowly decaying spectrum like a pretrained weight's. Cached per (n, seed).
    /// </summary>
    public static (float[] W, double[] S) WithPowerLawSpectrum(int n, double a, int seed)
    {
        lock (SpectrumCache)
        {
            if (SpectrumCache.TryGetValue((n, seed), out var hit)) return hit;
            var u = RandomOrthogonal(n, seed);
            var v = RandomOrthogonal(n, seed + 1);
            var s = Enumerable.Range(1, n).Select(i => Math.Pow(i, -a)).ToArray();
            for (var r = 0; r < n; r++)
                for (var c = 0; c < n; c++) u[(long)r * n + c] *= (float)s[c];
            var w = new float[(long)n * n];
            unsafe
            {
                fixed (float* pu = u, pv = v, pw = w)
                    OpenBlas.Sgemm(OpenBlas.RowMajor, OpenBlas.NoTrans, OpenBlas.Trans, n, n, n, 1f, (nint)pu, n, (nint)pv, n, 0f, (nint)pw, n);
            }
            return SpectrumCache[(n, seed)] = (w, s);
        }
    }

    private static unsafe float[] RandomOrthogonal(int n, int seed)
    {
        var g = SeededGaussian.Normal((long)n * n, 1, seed);
        for (var r = 0; r < n; r++)
            for (var c = 0; c < r; c++) g[(long)r * n + c] = g[(long)c * n + r];
        var w = new float[n];
        fixed (float* pg = g, pw = w)
            Lapacke.Check(Lapacke.Ssyevd(Lapacke.RowMajor, (byte)'V', (byte)'U', n, (nint)pg, n, (nint)pw), "LAPACKE_ssyevd");
        return g;
    }
}
