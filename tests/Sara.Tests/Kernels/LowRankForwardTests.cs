using Sara.Native.Backends;
using Sara.Native.Ops;
using Sara.Tests.Support;

namespace Sara.Tests.Kernels;

/// <summary>Parity of the fused low-rank forward (kernels/lowrank.cu + BLAS) against the float64 oracle.</summary>
public class LowRankForwardTests
{
    // (T, n, m, k): ragged sizes, k = 1, T = 1, k = 256, tile-boundary cases.
    public static readonly (int T, int N, int M, int K)[] Shapes =
    [
        (1, 1, 1, 1), (1, 37, 19, 1), (1, 64, 64, 5), (7, 33, 65, 3), (64, 32, 32, 32), (65, 31, 33, 33),
        (63, 100, 90, 17), (100, 257, 129, 64), (129, 70, 45, 256), (31, 300, 200, 1), (200, 64, 96, 8),
        (3, 1025, 7, 31), (257, 96, 300, 65), (50, 500, 40, 100), (128, 128, 128, 16), (5, 5, 5, 256),
        (333, 47, 61, 29), (17, 513, 255, 96), (90, 90, 1, 2), (1, 1000, 1000, 1), (77, 200, 150, 128),
    ];

    private static IEnumerable<TestCaseData> Cases(string[] devices) =>
        from d in devices from s in Shapes select new TestCaseData(d, s.T, s.N, s.M, s.K).SetArgDisplayNames(d, $"T{s.T}", $"n{s.N}", $"m{s.M}", $"k{s.K}");

    public static IEnumerable<TestCaseData> EmulatedCases() => Cases(TestDevices.Emulated);

    public static IEnumerable<TestCaseData> GpuCases() => Cases(["cuda"]);

    [TestCaseSource(nameof(EmulatedCases))]
    public void AdapterForwardMatchesOracle(string device, int t, int n, int m, int k) => Run(device, t, n, m, k);

    [TestCaseSource(nameof(GpuCases)), Category("gpu")]
    public void AdapterForwardMatchesOracleOnGpu(string device, int t, int n, int m, int k) => Run(device, t, n, m, k);

    private static void Run(string device, int t, int n, int m, int k)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        float[] xs = r.Normal((long)t * n), as_ = r.Normal((long)m * k), bs = r.Normal((long)k * n),
            lam = r.Normal(k), y0 = r.Normal((long)t * m);
        const float scale = 0.75f;
        using var x = backend.FromArray(xs, t, n);
        using var a = backend.FromArray(as_, m, k);
        using var b = backend.FromArray(bs, k, n);
        using var lambda = backend.FromArray(lam, k);
        using var y = backend.FromArray(y0, t, m);
        using var h = backend.Empty(t, k);
        using var z = backend.Empty(t, k);
        backend.Fill(h, float.NaN);   // poisoned: every element must be written
        backend.Fill(z, float.NaN);

        LowRankOps.AdapterForward(backend, x, a, b, lambda, scale, y, h, z);

        var hRef = Oracle.MatMul(Oracle.D(xs), t, n, false, Oracle.D(bs), k, n, true);
        var zRef = Oracle.ScaleColumns(hRef, t, k, Oracle.D(lam));
        var yRef = Oracle.Add(Oracle.D(y0), Oracle.MatMul(zRef, t, k, false, Oracle.D(as_), m, k, true), scale);
        Oracle.AssertClose(h.ToArray(), hRef, 1e-5, "H");
        Oracle.AssertClose(z.ToArray(), zRef, 1e-5, "Z");
        Oracle.AssertClose(y.ToArray(), yRef, 1e-5, "Y");
    }

    [TestCase("cpu"), TestCase("emu")]
    public void BadInputNamesTheArgument(string device)
    {
        using var backend = TestDevices.Create(device);
        using var x = backend.Zeros(4, 8);
        using var b = backend.Zeros(3, 8);
        using var badB = backend.Zeros(3, 9);
        using var lambda = backend.Zeros(3);
        using var h = backend.Zeros(4, 3);
        using var z = backend.Zeros(4, 3);
        using var wrongH = backend.Zeros(4, 2);
        using var kZero = backend.Zeros(0, 8);
        using var lambda0 = backend.Zeros(0);

        var e1 = Assert.Throws<ArgumentException>(() => backend.LowRankForward(x, badB, lambda, h, z));
        Assert.That(e1!.ParamName, Is.EqualTo("b"));
        Assert.That(e1.Message, Does.Contain("k x 8"));
        var e2 = Assert.Throws<ArgumentException>(() => backend.LowRankForward(x, b, lambda, wrongH, z));
        Assert.That(e2!.ParamName, Is.EqualTo("h"));
        Assert.That(e2.Message, Does.Contain("[4, 3]"));
        var e3 = Assert.Throws<ArgumentOutOfRangeException>(() => backend.LowRankForward(x, kZero, lambda0, h, z));
        Assert.That(e3!.ParamName, Is.EqualTo("b"));
        Assert.Throws<ArgumentNullException>(() => backend.LowRankForward(x, b, null!, h, z));

        var disposed = backend.Zeros(4, 8);
        disposed.Dispose();
        var e4 = Assert.Throws<ArgumentException>(() => backend.LowRankForward(disposed, b, lambda, h, z));
        Assert.That(e4!.ParamName, Is.EqualTo("x"));
        Assert.That(e4.Message, Does.Contain("disposed"));
    }
}
