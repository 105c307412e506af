// ParityCatalog.cs — every parity case the emulator tests run, in one list for the GPU device check.
namespace Sara.Tests.DeviceCheck.Parity;

public static class ParityCatalog
{
    public static IEnumerable<ParityCase> All() =>
        LowRankForwardParity.Cases().Concat(SaraLayerParity.Cases()).Concat(RoutingParity.Cases())
            .Concat(Gemm16Parity.Cases()).Concat(SaraLayerParity.Cases16()).Concat(SaraLayerParity.CasesActivations16())
            .Concat(Kernels16Parity.Cases());
}
