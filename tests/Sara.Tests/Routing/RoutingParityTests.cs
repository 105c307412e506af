using Sara.Native.Backends;
using Sara.Tests.DeviceCheck;
using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.Support;

namespace Sara.Tests.Routing;

/// <summary>Forward and backward of the Mo-SARA router (kernels/routing.cu, CpuBackend) against the float64 oracle.</summary>
public class RoutingParityTests
{
    // The shared parity shapes (DeviceCheck/Parity), also run on a real GPU by bench/Sara.DeviceCheck.
    public static readonly (int T, int E, int K, int TopK, float Beta)[] Shapes = RoutingParity.Shapes;

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
        ParityAssert.AllPass(RoutingParity.Run(backend, t, e, k, topK, beta, new Rand()));
    }
}
