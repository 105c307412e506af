using System.Collections.Concurrent;
using Sara.Bindings;
using Sara.Tests.Support;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Sara.Tests.Svd;

/// <summary>
/// Test matrices with a known SVD: W = U diag(s) V^T with random orthonormal U (m x r), V (n x r), r = min(m, n),
/// from a float64 modified Gram–Schmidt (applied twice) of Gaussian matrices. Factors are cached per (rows, cols, seed)
/// so the power-law cases share them (keeps CI time small); the seed is fresh per test run (SARA_TEST_SEED replays it).
/// </summary>
public static class SvdTestMatrices
{
    /// <summary>One seed for the whole run, from the run seed (<see cref="TestSeeds.Shared"/>), logged with each test that uses it.</summary>
    public static int RunSeed => TestSeeds.Shared(nameof(SvdTestMatrices));

    private static readonly ConcurrentDictionary<(int, int, int), double[]> Cache = new();

    /// <summary>Row-major rows x cols with orthonormal columns.</summary>
    public static double[] OrthonormalColumns(int rows, int cols, int seed) =>
        Cache.GetOrAdd((rows, cols, seed), key => Mgs2(key.Item1, key.Item2, new Random(key.Item3)));

    /// <summary>s_i = i^-a, i = 1..count.</summary>
    public static double[] PowerLaw(int count, double a) => Enumerable.Range(1, count).Select(i => Math.Pow(i, -a)).ToArray();

    /// <summary>W = U diag(s) V^T as float32, with U and V (row-major, orthonormal columns) returned for the oracle.</summary>
    public static (float[] W, double[] U, double[] V) WithSpectrum(int m, int n, double[] s, int seed)
    {
        var r = Math.Min(m, n);
        var u = OrthonormalColumns(m, r, seed);
        var v = OrthonormalColumns(n, r, seed + 1);
        var us = new double[u.Length];
        for (var i = 0; i < m; i++)
            for (var j = 0; j < r; j++) us[(long)i * r + j] = u[(long)i * r + j] * s[j];
        var w = Dgemm(us, m, r, v, n, transB: true);
        return (Array.ConvertAll(w, x => (float)x), u, v);
    }

    /// <summary>
    /// W = Q_U diag(s) Q_V^T with dense orthogonal Q_U, Q_V that are products of <paramref name="reflectors"/> random
    /// Householder reflectors (O(m n) each, so LLM-sized test matrices cost little), plus sigma times a Gaussian bulk.
    /// A randomized SVD's accuracy depends only on the spectrum (a Gaussian sketch is rotation invariant), so these
    /// factors serve as well as Haar-random ones. The spectrum of W with a bulk is known only through LAPACK.
    /// </summary>
    public static float[] WithSpectrumHouseholder(int m, int n, double[] s, int seed, double sigma = 0, int reflectors = 4)
    {
        var rng = new Random(seed);
        var b = new double[(long)n * n];   // Q_V^T = H_p ... H_1 applied to I
        for (var i = 0; i < n; i++) b[(long)i * n + i] = 1;
        Reflect(b, n, n, reflectors, rng);
        var w = new double[(long)m * n];
        for (var i = 0; i < Math.Min(Math.Min(m, n), s.Length); i++)
            for (var j = 0; j < n; j++) w[(long)i * n + j] = s[i] * b[(long)i * n + j];
        Reflect(w, m, n, reflectors, rng);
        var result = new float[w.Length];
        for (long i = 0; i < w.Length; i++) result[i] = (float)(w[i] + (sigma > 0 ? sigma * Gauss(rng) : 0));
        return result;
    }

    private static double Gauss(Random rng) => Math.Sqrt(-2 * Math.Log(1.0 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>a (rows x cols) = H_p ... H_1 a with H = I - 2 u u^T, u random unit vectors.</summary>
    private static void Reflect(double[] a, int rows, int cols, int count, Random rng)
    {
        var proj = new double[cols];
        for (var h = 0; h < count; h++)
        {
            var u = new double[rows];
            for (var i = 0; i < rows; i++) u[i] = Gauss(rng);
            TensorPrimitives.Divide(u, Math.Sqrt(TensorPrimitives.Dot(u, u)), u);
            Array.Clear(proj);
            for (var i = 0; i < rows; i++) TensorPrimitives.MultiplyAdd(a.AsSpan(i * cols, cols), u[i], proj, proj);
            for (var i = 0; i < rows; i++) TensorPrimitives.MultiplyAdd(proj, -2 * u[i], a.AsSpan(i * cols, cols), a.AsSpan(i * cols, cols));
        }
    }

    /// <summary>A power-law head of <paramref name="head"/> values c i^-0.5 over a Gaussian bulk of entry size sigma (an LLM-like spectrum).</summary>
    public static float[] LlmLike(int m, int n, int head, double c, double sigma, int seed) =>
        WithSpectrumHouseholder(m, n, Enumerable.Range(1, head).Select(i => c / Math.Sqrt(i)).ToArray(), seed, sigma);

    /// <summary>C (m x n) = A (m x k) op(B), B stored n x k when transB else k x n; float64 through OpenBLAS.</summary>
    public static unsafe double[] Dgemm(double[] a, int m, int k, double[] b, int n, bool transB)
    {
        var c = new double[(long)m * n];
        fixed (double* pa = a, pb = b, pc = c)
            OpenBlas.Dgemm(OpenBlas.RowMajor, OpenBlas.NoTrans, transB ? OpenBlas.Trans : OpenBlas.NoTrans, m, n, k,
                1.0, (nint)pa, k, (nint)pb, transB ? k : n, 0.0, (nint)pc, n);
        return c;
    }

    private static double[] Mgs2(int rows, int cols, Random rng)
    {
        var q = new double[cols][];
        for (var j = 0; j < cols; j++)
        {
            q[j] = new double[rows];
            for (var i = 0; i < rows; i++)
            {
                var u1 = 1.0 - rng.NextDouble();
                q[j][i] = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * rng.NextDouble());
            }
        }
        for (var pass = 0; pass < 2; pass++)
            for (var j = 0; j < cols; j++)
            {
                var v = q[j];
                for (var p = 0; p < j; p++) TensorPrimitives.MultiplyAdd(q[p], -TensorPrimitives.Dot(q[p], v), v, v);
                TensorPrimitives.Divide(v, Math.Sqrt(TensorPrimitives.Dot(v, v)), v);
            }
        var result = new double[(long)rows * cols];
        for (var j = 0; j < cols; j++)
            for (var i = 0; i < rows; i++) result[(long)i * cols + j] = q[j][i];
        return result;
    }
}
