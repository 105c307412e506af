// LowRankForwardParity.cs — the fused low-rank forward (kernels/lowrank.cu + BLAS) against the float64 oracle.
// Used by Kernels/LowRankForwardTests (cpu, emu, cuda) and by bench/Sara.DeviceCheck on a real GPU.
using Sara.Native.Backends;
using Sara.Native.Ops;
using Sara.Tests.Support;

namespace Sara.Tests.DeviceCheck.Parity;

public static class LowRankForwardParity
{
    // (T, n, m, k): ragged sizes, k = 1, T = 1, k = 256, tile-boundary cases.
    public static readonly (int T, int N, int M, int K)[] Shapes =
    [
        (1, 1, 1, 1), (1, 37, 19, 1), (1, 64, 64, 5), (7, 33, 65, 3), (64, 32, 32, 32), (65, 31, 33, 33),
        (63, 100, 90, 17), (100, 257, 129, 64), (129, 70, 45, 256), (31, 300, 200, 1), (200, 64, 96, 8),
        (3, 1025, 7, 31), (257, 96, 300, 65), (50, 500, 40, 100), (128, 128, 128, 16), (5, 5, 5, 256),
        (333, 47, 61, 29), (17, 513, 255, 96), (90, 90, 1, 2), (1, 1000, 1000, 1), (77, 200, 150, 128),
    ];

    public static IEnumerable<ParityCase> Cases() =>
        Shapes.Select(s => new ParityCase("lowrank-forward", $"T{s.T} n{s.N} m{s.M} k{s.K}",
            (backend, r) => Run(backend, s.T, s.N, s.M, s.K, r)));

    public static IReadOnlyList<ParityCheck> Run(Backend backend, int t, int n, int m, int k, Rand r)
    {
        float[] xs = r.Normal((long)t * n), as_ = r.Normal((long)m * k), bs = r.Normal((long)k * n),
            lam = r.Normal(k), y0 = r.Normal((long)t * m);
        const float scale = 0.75f;
        using var x = backend.FromArray(xs, t, n);
        using var a = backend.FromArray(as_, m, k);
        using var b = backend.FromArray(bs, k, n);
        using var lambda = backend.FromArray(lam, k);
        using var y = backend.FromArray(y0, t, m);
        using var h = Poison.Tensor(backend, t, k);   // poisoned: every element must be written
        using var z = Poison.Tensor(backend, t, k);

        LowRankOps.AdapterForward(backend, x, a, b, lambda, scale, y, h, z);

        // The reference, and the same computation on absolute values (the cancellation-aware floor of Oracle.RelErr).
        (double[] H, double[] Z, double[] Y) Reference(double[] xd, double[] bd, double[] ld, double[] ad, double[] yd, double sc)
        {
            var hr = Oracle.MatMul(xd, t, n, false, bd, k, n, true);
            var zr = Oracle.ScaleColumns(hr, t, k, ld);
            return (hr, zr, Oracle.Add(yd, Oracle.MatMul(zr, t, k, false, ad, m, k, true), sc));
        }
        var want = Reference(Oracle.D(xs), Oracle.D(bs), Oracle.D(lam), Oracle.D(as_), Oracle.D(y0), scale);
        var abs = Reference(Oracle.Abs(xs), Oracle.Abs(bs), Oracle.Abs(lam), Oracle.Abs(as_), Oracle.Abs(y0), scale);
        return [ParityCheck.Of("H", h.ToArray(), want.H, abs.H, 1e-5), ParityCheck.Of("Z", z.ToArray(), want.Z, abs.Z, 1e-5),
            ParityCheck.Of("Y", y.ToArray(), want.Y, abs.Y, 1e-5)];
    }
}
