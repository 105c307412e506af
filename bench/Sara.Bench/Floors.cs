// Floors.cs — the work each benchmarked kernel must do (flops, and bytes it must move through memory at least once
// per GEMM / kernel it is made of) and the resulting time floor: max(flops / peak, bytes / bandwidth).
namespace Sara.Bench;

public sealed record Work(double Flops, double Bytes)
{
    public static Work operator +(Work a, Work b) => new(a.Flops + b.Flops, a.Bytes + b.Bytes);

    /// <summary>Seconds at the given peak flop rate (flop/s) and bandwidth (byte/s).</summary>
    public double Floor(double flopsPerSecond, double bytesPerSecond) => Math.Max(Flops / flopsPerSecond, Bytes / bytesPerSecond);
}

public static class Floors
{
    public const double H200Bandwidth = 4.8e12, H200Fp32 = 67e12, H200Tf32 = 495e12, H200Bf16 = 989e12;

    /// <summary>C (r x c) += A (r x inner) B (inner x c): 2 r c inner flops; reads A, B, C (when accumulating), writes C.</summary>
    public static Work Gemm(double r, double c, double inner, bool accumulate = false) =>
        new(2 * r * c * inner, 4 * (r * inner + inner * c + r * c * (accumulate ? 2 : 1)));

    public static Work DenseForward(LayerShape s) => Gemm(s.T, s.M, s.N);

    /// <summary>Y = X W^T; dW = G^T X; dX = G W.</summary>
    public static Work DenseForwardBackward(LayerShape s) =>
        DenseForward(s) + Gemm(s.M, s.N, s.T) + Gemm(s.T, s.N, s.M);

    /// <summary>Dense Y, then H = X B^T with Z = H (.) lambda (one fused kernel), then Y += s Z A^T.</summary>
    public static Work SaraForward(LayerShape s) =>
        DenseForward(s) + LowRankForwardKernel(s) + Gemm(s.T, s.M, s.K, accumulate: true);

    /// <summary>Fused H = X B^T, Z = H (.) lambda: reads X and B, writes H and Z.</summary>
    public static Work LowRankForwardKernel(LayerShape s) =>
        new(2.0 * s.T * s.N * s.K + s.T * s.K, 4.0 * (s.T * s.N + s.K * s.N + 2.0 * s.T * s.K));

    /// <summary>Fused dZ = s G A, dH = dZ (.) lambda, dlambda = colsum(dZ (.) H): reads G, A, H; writes dH (and dlambda).</summary>
    public static Work LowRankBackwardKernel(LayerShape s) =>
        new(2.0 * s.T * s.M * s.K + 4.0 * s.T * s.K, 4.0 * (s.T * s.M + s.M * s.K + 2.0 * s.T * s.K));

    /// <summary>Forward; backward: rank kernel, dA = s G^T Z, dB = dH^T X, dX = G W0 + dH B.</summary>
    public static Work SaraForwardBackward(LayerShape s) =>
        SaraForward(s) + LowRankBackwardKernel(s) + Gemm(s.M, s.K, s.T) + Gemm(s.K, s.N, s.T)
        + Gemm(s.T, s.N, s.M) + Gemm(s.T, s.N, s.K, accumulate: true);

    /// <summary>Router over H: P = H Wg^T (T k E), softmax, lam_eff = g Lambda (T E k), Z = H (.) lam_eff.</summary>
    public static Work Routing(LayerShape s, int e, bool backward) =>
        new((backward ? 3 : 2) * 2.0 * s.T * s.K * e, 4.0 * s.T * s.K * (backward ? 5 : 3));

    public static Work MoSaraForward(LayerShape s, int e) =>
        DenseForward(s) + Gemm(s.T, s.K, s.N) + Routing(s, e, false) + Gemm(s.T, s.M, s.K, accumulate: true);

    /// <summary>Forward; backward: dZ = s G A, router backward, dX = G W0 + dH B (A, B frozen: no dA, dB).</summary>
    public static Work MoSaraForwardBackward(LayerShape s, int e) =>
        MoSaraForward(s, e) + Gemm(s.T, s.K, s.M) + Routing(s, e, true) + Gemm(s.T, s.N, s.M) + Gemm(s.T, s.N, s.K, accumulate: true);

    /// <summary>AdamW: reads p, g, m, v and writes p, m, v (28 bytes per parameter); about 12 flops per parameter.</summary>
    public static Work AdamW(long parameters) => new(12.0 * parameters, 28.0 * parameters);

    /// <summary>
    /// Randomized subspace iteration with q power iterations and sketch width l on n x n: 2q + 2 passes over W
    /// (sketch, 2 per iteration, Q^T W), 2q + 1 CholeskyQR3 (3 Gram + 3 triangular GEMMs each), U = Q U_b.
    /// </summary>
    public static Work TruncatedSvd(int n, int k, int l, int q)
    {
        var passes = 2 * q + 2;
        var qr = (2 * q + 1) * 3 * (Gemm(l, l, n).Flops + Gemm(n, l, l).Flops);
        var flops = passes * 2.0 * n * n * l + qr + 2.0 * n * l * k + 4.0 * l * l * n;
        var bytes = passes * 4.0 * ((double)n * n + 2.0 * n * l);
        return new Work(flops, bytes);
    }

    /// <summary>
    /// All singular values of n x n (values only): bidiagonalisation costs 8/3 n^3 flops; the bidiagonal QR is O(n^2).
    /// Bytes: W read once. Half of those flops are matrix-vector products that stream the trailing matrix ~n times, but
    /// at n &lt;= 2048 it (&lt;= 16 MiB) stays in L3, so DRAM bandwidth bounds nothing: charging 4/3 n^3 * 4 bytes to
    /// memory gave a "floor" that LAPACK beat.
    /// </summary>
    public static Work ExactSvd(int n) => new(8.0 / 3 * n * (double)n * n, 4.0 * n * n);
}
