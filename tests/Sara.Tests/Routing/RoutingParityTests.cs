using Sara.Native.Backends;
using Sara.Tests.Support;

namespace Sara.Tests.Routing;

/// <summary>Forward and backward of the Mo-SARA router (kernels/routing.cu, CpuBackend) against the float64 oracle.</summary>
public class RoutingParityTests
{
    // (T, E, k, topK, beta): E = 1 and 64, k = 1 and 512, T = 1, dense and top-k_r, across the 32-expert and 32-rank seams
    // and the 128-token chunks of the parameter reductions.
    public static readonly (int T, int E, int K, int TopK, float Beta)[] Shapes =
    [
        (1, 1, 1, 0, 0f), (1, 64, 512, 0, 0.5f), (1, 7, 512, 3, 0f), (7, 3, 1, 2, 0.3f), (19, 64, 1, 64, 0f),
        (33, 64, 40, 8, 0.2f), (65, 5, 100, 1, 0.5f), (17, 33, 65, 0, 0f), (9, 32, 32, 32, 1f), (40, 2, 257, 1, 0f),
        (129, 8, 16, 3, 0.1f), (20, 1, 33, 1, 0.4f), (50, 64, 512, 2, 0.25f), (150, 12, 8, 0, 0.5f), (5, 40, 300, 39, 0f),
        (700, 16, 24, 2, 0.2f),   // 6 token chunks in the parameter reductions
    ];

    private static IEnumerable<TestCaseData> Cases(string[] devices) =>
        from d in devices from s in Shapes
        select new TestCaseData(d, s.T, s.E, s.K, s.TopK, s.Beta).SetArgDisplayNames(d, $"T{s.T}", $"E{s.E}", $"k{s.K}", $"top{s.TopK}", $"beta{s.Beta}");

    public static IEnumerable<TestCaseData> EmulatedCases() => Cases(TestDevices.Emulated);

    public static IEnumerable<TestCaseData> GpuCases() => Cases(["cuda"]);

    [TestCaseSource(nameof(EmulatedCases))]
    public void ForwardAndBackwardMatchOracle(string device, int t, int e, int k, int topK, float beta) =>
        Run(device, t, e, k, topK, beta);

    [TestCaseSource(nameof(GpuCases)), Category("gpu")]
    public void ForwardAndBackwardMatchOracleOnGpu(string device, int t, int e, int k, int topK, float beta) =>
        Run(device, t, e, k, topK, beta);

    private static void Run(string device, int t, int e, int k, int topK, float beta)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        var x = RouterInputs.Draw(r, t, e, k, topK);
        var want = x.Oracle();

        using var h = backend.FromArray(x.H, t, k);
        using var wg = backend.FromArray(x.Wg, e, k);
        using var bg = backend.FromArray(x.Bg, e);
        using var lambdas = backend.FromArray(x.Lambda, e, k);
        using var gates = Poisoned(backend, t, e);
        using var lamEff = Poisoned(backend, t, k);
        using var z = Poisoned(backend, t, k);
        backend.RoutingForward(h, wg, bg, lambdas, topK, gates, lamEff, z);
        Oracle.AssertClose(gates.ToArray(), want.Gates, 1e-5, "gates");
        Oracle.AssertClose(lamEff.ToArray(), want.LamEff, 1e-5, "lamEff");
        Oracle.AssertClose(z.ToArray(), want.Z, 1e-5, "Z");

        // The backward on its own: saved activations are the oracle's, rounded to float32, and the oracle backward
        // runs on exactly those values.
        var gatesF = Array.ConvertAll(want.Gates, v => (float)v);
        var lamEffF = Array.ConvertAll(want.LamEff, v => (float)v);
        var dzs = r.Normal((long)t * k);
        backend.Upload(gates, gatesF);
        backend.Upload(lamEff, lamEffF);
        using var dz = backend.FromArray(dzs, t, k);
        using var dh = Poisoned(backend, t, k);
        using var dLambdas = Poisoned(backend, e, k);
        using var dWg = Poisoned(backend, e, k);
        using var dbg = Poisoned(backend, e);
        backend.RoutingBackward(dz, h, wg, lambdas, gates, lamEff, topK, beta, dh, dLambdas, dWg, dbg);

        var g = RoutingOracle.Backward(Oracle.D(dzs), Oracle.D(x.H), Oracle.D(x.Wg), Oracle.D(x.Lambda),
            Oracle.D(gatesF), Oracle.D(lamEffF), t, e, k, beta);
        Oracle.AssertClose(dh.ToArray(), g.DH, 1e-5, "dH");
        Oracle.AssertClose(dLambdas.ToArray(), g.DLambda, 1e-5, "dLambda");
        Oracle.AssertClose(dWg.ToArray(), g.DWg, 1e-5, "dWg");
        Oracle.AssertClose(dbg.ToArray(), g.Dbg, 1e-5, "dbg");
    }

    internal static Native.Tensors.Tensor Poisoned(Backend backend, params int[] shape)
    {
        var t = backend.Empty(shape);
        backend.Fill(t, float.NaN);
        return t;
    }
}
