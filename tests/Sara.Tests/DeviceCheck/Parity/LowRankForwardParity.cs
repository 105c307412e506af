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

        var hRef = Oracle.MatMul(Oracle.D(xs), t, n, false, Oracle.D(bs), k, n, true);
        var zRef = Oracle.ScaleColumns(hRef, t, k, Oracle.D(lam));
        var yRef = Oracle.Add(Oracle.D(y0), Oracle.MatMul(zRef, t, k, false, Oracle.D(as_), m, k, true), scale);
        return [ParityCheck.Of("H", h.ToArray(), hRef, 1e-5), ParityCheck.Of("Z", z.ToArray(), zRef, 1e-5),
            ParityCheck.Of("Y", y.ToArray(), yRef, 1e-5)];
    }
}
