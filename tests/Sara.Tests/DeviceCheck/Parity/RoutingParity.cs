// RoutingParity.cs — Mo-SARA's router forward and backward (kernels/routing.cu, CpuBackend) against the float64 oracle.
// Used by Routing/RoutingParityTests (cpu, emu, cuda) and by bench/Sara.DeviceCheck on a real GPU.
using Sara.Native.Backends;
using Sara.Tests.Routing;
using Sara.Tests.Support;

namespace Sara.Tests.DeviceCheck.Parity;

public static class RoutingParity
{
    // (T, E, k, topK, beta): E = 1 and 64, k = 1 and 512, T = 1, dense and top-k_r, across the 32-expert and 32-rank seams
    // and the 128-token chunks of the parameter reductions.
    public static readonly (int T, int E, int K, int TopK, float Beta)[] Shapes =
    [
        (1, 1, 1, 0, 0f), (1, 64, 512, 0, 0.5f), (1, 7, 512, 3, 0f), (7, 3, 1, 2, 0.3f), (19, 64, 1, 64, 0f),
        (33, 64, 40, 8, 0.2f), (65, 5, 100, 1, 0.5f), (17, 33, 65, 0, 0f), (9, 32, 32, 32, 1f), (40, 2, 257, 1, 0f),
        (129, 8, 16, 3, 0.1f), (20, 1, 33, 1, 0.4f), (50, 64, 512, 2, 0.25f), (150, 12, 8, 0, 0.5f), (5, 40, 300, 39, 0f),
        (700, 16, 24, 2, 0.2f),   // 6 token chunks in the parameter reductions
        (765, 3, 512, 2, 0.1f),   // 45-token chunks: two 32-token stages per block of the parameter reductions, the second ragged
    ];

    public static IEnumerable<ParityCase> Cases() =>
        Shapes.Select(s => new ParityCase("routing", $"T{s.T} E{s.E} k{s.K} top{s.TopK} beta{s.Beta}",
            (backend, r) => Run(backend, s.T, s.E, s.K, s.TopK, s.Beta, r)));

    public static IReadOnlyList<ParityCheck> Run(Backend backend, int t, int e, int k, int topK, float beta, Rand r)
    {
        var x = RouterInputs.Draw(r, t, e, k, topK);
        var want = x.Oracle();
        var checks = new List<ParityCheck>();

        using var h = backend.FromArray(x.H, t, k);
        using var wg = backend.FromArray(x.Wg, e, k);
        using var bg = backend.FromArray(x.Bg, e);
        using var lambdas = backend.FromArray(x.Lambda, e, k);
        using var gates = Poison.Tensor(backend, t, e);
        using var lamEff = Poison.Tensor(backend, t, k);
        using var z = Poison.Tensor(backend, t, k);
        backend.RoutingForward(h, wg, bg, lambdas, topK, gates, lamEff, z);
        var abs = RoutingOracle.RunAbsolute(want.Gates, Oracle.D(x.H), Oracle.D(x.Lambda), t, e, k);
        checks.Add(ParityCheck.Of("gates", gates.ToArray(), want.Gates, 1e-5));
        checks.Add(ParityCheck.Of("lamEff", lamEff.ToArray(), want.LamEff, abs.LamEff, 1e-5));
        checks.Add(ParityCheck.Of("Z", z.ToArray(), want.Z, abs.Z, 1e-5));

        // The backward on its own: saved activations are the oracle's, rounded to float32, and the oracle backward
        // runs on exactly those values.
        var gatesF = Array.ConvertAll(want.Gates, v => (float)v);
        var lamEffF = Array.ConvertAll(want.LamEff, v => (float)v);
        var dzs = r.Normal((long)t * k);
        backend.Upload(gates, gatesF);
        backend.Upload(lamEff, lamEffF);
        using var dz = backend.FromArray(dzs, t, k);
        using var dh = Poison.Tensor(backend, t, k);
        using var dLambdas = Poison.Tensor(backend, e, k);
        using var dWg = Poison.Tensor(backend, e, k);
        using var dbg = Poison.Tensor(backend, e);
        backend.RoutingBackward(dz, h, wg, lambdas, gates, lamEff, topK, beta, dh, dLambdas, dWg, dbg);

        var g = RoutingOracle.Backward(Oracle.D(dzs), Oracle.D(x.H), Oracle.D(x.Wg), Oracle.D(x.Lambda),
            Oracle.D(gatesF), Oracle.D(lamEffF), t, e, k, beta);
        var scale = RoutingOracle.Backward(Oracle.D(dzs), Oracle.D(x.H), Oracle.D(x.Wg), Oracle.D(x.Lambda),
            Oracle.D(gatesF), Oracle.D(lamEffF), t, e, k, beta, absoluteTerms: true);
        checks.Add(ParityCheck.Of("dH", dh.ToArray(), g.DH, scale.DH, 1e-5));
        checks.Add(ParityCheck.Of("dLambda", dLambdas.ToArray(), g.DLambda, scale.DLambda, 1e-5));
        checks.Add(ParityCheck.Of("dWg", dWg.ToArray(), g.DWg, scale.DWg, 1e-5));
        checks.Add(ParityCheck.Of("dbg", dbg.ToArray(), g.Dbg, scale.Dbg, 1e-5));
        return checks;
    }
}
