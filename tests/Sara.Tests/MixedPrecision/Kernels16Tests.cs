// The kernel ops with 16-bit operands (issue 13, phase B) on the CPU backend and on the emulator, which runs the very
// kernels the GPU runs (kernels/lowrank.cu, reduce.cu, elementwise.cu reading bf16 / f16 through common.cuh's helpers):
// each case of Kernels16Parity against its float64 oracle, poisoned outputs, fresh random inputs.
using Sara.Tests.DeviceCheck;
using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.Support;

namespace Sara.Tests.MixedPrecision;

public class Kernels16Tests
{
    public static IEnumerable<TestCaseData> EmulatedCases() =>
        from d in TestDevices.Emulated
        from c in Kernels16Parity.Cases()
        select new TestCaseData(d, c).SetArgDisplayNames(d, $"{c.Family} {c.Label}");

    [TestCaseSource(nameof(EmulatedCases))]
    public void MatchesTheFloat64OracleOnTheSame16BitValues(string device, ParityCase c)
    {
        using var backend = TestDevices.Create(device);
        ParityAssert.AllPass(c.Run(backend, new Rand()));
    }
}
