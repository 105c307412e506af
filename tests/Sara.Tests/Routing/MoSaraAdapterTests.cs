using Sara.Native.Ops;
using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.Support;

namespace Sara.Tests.Routing;

/// <summary>The composed Mo-SARA adapter path (RoutingOps: BLAS + low-rank + routing kernels) against the float64 oracle.</summary>
public class MoSaraAdapterTests
{
    [TestCase("cpu", 37, 50, 40, 24, 6, 2, 0.3f), TestCase("emu", 37, 50, 40, 24, 6, 2, 0.3f)]
    [TestCase("cpu", 1, 3, 2, 1, 1, 0, 0f), TestCase("emu", 1, 3, 2, 1, 1, 0, 0f)]
    [TestCase("cpu", 70, 33, 65, 40, 64, 0, 0.1f), TestCase("emu", 70, 33, 65, 40, 64, 0, 0.1f)]
    public void AdapterForwardAndBackwardMatchOracle(string device, int t, int n, int m, int k, int e, int topK, float beta)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        float[] xs = r.Normal((long)t * n), as_ = r.Normal((long)m * k), bs = r.Normal((long)k * n, 1 / Math.Sqrt(n)),
            y0 = r.Normal((long)t * m), gs = r.Normal((long)t * m), dx0 = r.Normal((long)t * n);
        const float scale = 0.5f;
        var h64 = Oracle.MatMul(Oracle.D(xs), t, n, false, Oracle.D(bs), k, n, true);
        var router = RouterInputs.Draw(r, t, e, k, topK, Array.ConvertAll(h64, v => (float)v));
        var f = RoutingOracle.Run(h64, Oracle.D(router.Wg), Oracle.D(router.Bg), Oracle.D(router.Lambda), t, e, k, topK);

        using var x = backend.FromArray(xs, t, n);
        using var a = backend.FromArray(as_, m, k);
        using var b = backend.FromArray(bs, k, n);
        using var wg = backend.FromArray(router.Wg, e, k);
        using var bg = backend.FromArray(router.Bg, e);
        using var lambdas = backend.FromArray(router.Lambda, e, k);
        using var y = backend.FromArray(y0, t, m);
        using var h = Poison.Tensor(backend, t, k);
        using var gates = Poison.Tensor(backend, t, e);
        using var lamEff = Poison.Tensor(backend, t, k);
        using var z = Poison.Tensor(backend, t, k);
        RoutingOps.AdapterForward(backend, x, a, b, wg, bg, lambdas, topK, scale, y, h, gates, lamEff, z);
        var yRef = Oracle.Add(Oracle.D(y0), Oracle.MatMul(f.Z, t, k, false, Oracle.D(as_), m, k, true), scale);
        // The same computations on absolute values (gates held): the cancellation-aware floor of Oracle.RelErr.
        var hAbs = Oracle.MatMul(Oracle.Abs(xs), t, n, false, Oracle.Abs(bs), k, n, true);
        var fAbs = RoutingOracle.RunAbsolute(f.Gates, hAbs, Oracle.D(router.Lambda), t, e, k);
        var yAbs = Oracle.Add(Oracle.Abs(y0), Oracle.MatMul(fAbs.Z, t, k, false, Oracle.Abs(as_), m, k, true), scale);
        Oracle.AssertClose(h.ToArray(), h64, hAbs, 1e-5, "H");
        Oracle.AssertClose(y.ToArray(), yRef, yAbs, 1e-5, "Y");

        using var g = backend.FromArray(gs, t, m);
        using var dx = backend.FromArray(dx0, t, n);
        using var dLambdas = Poison.Tensor(backend, e, k);
        using var dWg = Poison.Tensor(backend, e, k);
        using var dbg = Poison.Tensor(backend, e);
        RoutingOps.AdapterBackward(backend, g, a, b, h, wg, lambdas, gates, lamEff, topK, scale, beta, dx, dLambdas, dWg, dbg);

        var dz = Oracle.MatMul(Oracle.D(gs), t, m, false, Oracle.D(as_), m, k, false);
        for (var i = 0; i < dz.Length; i++) dz[i] *= scale;
        var grad = RoutingOracle.Backward(dz, h64, Oracle.D(router.Wg), Oracle.D(router.Lambda), f.Gates, f.LamEff, t, e, k, beta);
        var dzAbs = Oracle.MatMul(Oracle.Abs(gs), t, m, false, Oracle.Abs(as_), m, k, false).Select(v => scale * v).ToArray();
        var gradAbs = RoutingOracle.Backward(dzAbs, hAbs, Oracle.D(router.Wg), Oracle.D(router.Lambda), f.Gates, fAbs.LamEff,
            t, e, k, beta, absoluteTerms: true);
        var dxRef = Oracle.Add(Oracle.D(dx0), Oracle.MatMul(grad.DH, t, k, false, Oracle.D(bs), k, n, false));
        var dxAbs = Oracle.Add(Oracle.Abs(dx0), Oracle.MatMul(gradAbs.DH, t, k, false, Oracle.Abs(bs), k, n, false));
        Oracle.AssertClose(dx.ToArray(), dxRef, dxAbs, 1e-5, "dX");
        Oracle.AssertClose(dLambdas.ToArray(), grad.DLambda, gradAbs.DLambda, 1e-5, "dLambda");
        Oracle.AssertClose(dWg.ToArray(), grad.DWg, gradAbs.DWg, 1e-5, "dWg");
        Oracle.AssertClose(dbg.ToArray(), grad.Dbg, gradAbs.Dbg, 1e-5, "dbg");
    }
}
