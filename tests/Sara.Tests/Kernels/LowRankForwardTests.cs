using Sara.Native.Backends;
using Sara.Tests.DeviceCheck;
using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.Support;

namespace Sara.Tests.Kernels;

/// <summary>Parity of the fused low-rank forward (kernels/lowrank.cu + BLAS) against the float64 oracle.</summary>
public class LowRankForwardTests
{
    // (T, n, m, k): the shared parity shapes (DeviceCheck/Parity), also run on a real GPU by bench/Sara.DeviceCheck.
    public static readonly (int T, int N, int M, int K)[] Shapes = LowRankForwardParity.Shapes;

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
        ParityAssert.AllPass(LowRankForwardParity.Run(backend, t, n, m, k, new Rand()));
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
