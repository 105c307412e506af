// Backend.Gemm with 16-bit operands (all dtype combinations, transposes, beta) against the float64 oracle fed the same
// 16-bit values; MixedGemm's panel splitting; the runtimes' GemmEx type rules.
using Sara.Native.Backends;
using Sara.Native.Runtime;
using Sara.Native.Tensors;
using Sara.Tests.DeviceCheck;
using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.Support;

namespace Sara.Tests.MixedPrecision;

public class MixedGemmTests
{
    private static IEnumerable<TestCaseData> Cases(string[] devices) =>
        from d in devices
        from c in Gemm16Parity.Cases()
        select new TestCaseData(d, c).SetArgDisplayNames(d, c.Label);

    public static IEnumerable<TestCaseData> EmulatedCases() => Cases(TestDevices.Emulated);

    public static IEnumerable<TestCaseData> GpuCases() => Cases(["cuda"]);

    [TestCaseSource(nameof(EmulatedCases))]
    public void GemmMatchesTheOracleOnTheSame16BitValues(string device, ParityCase c)
    {
        using var backend = TestDevices.Create(device);
        ParityAssert.AllPass(c.Run(backend, new Rand()));
    }

    [TestCaseSource(nameof(GpuCases)), Category("gpu")]
    public void GemmMatchesTheOracleOnTheSame16BitValuesOnGpu(string device, ParityCase c)
    {
        using var backend = TestDevices.Create(device);
        ParityAssert.AllPass(c.Run(backend, new Rand()));
    }

    // Tiny panels: many k-panels (a 16-bit A or B) and many row panels of a 16-bit C, each C panel rounded once.
    [TestCase(DType.BF16, DType.F32, DType.F32, false, false, 0f)]
    [TestCase(DType.F32, DType.BF16, DType.F32, false, true, 1f)]
    [TestCase(DType.F16, DType.F16, DType.F16, true, false, 0.5f)]
    [TestCase(DType.F32, DType.F32, DType.BF16, true, true, 1f)]
    [TestCase(DType.BF16, DType.BF16, DType.BF16, false, true, 0f)]
    public void PanelSplittingGivesTheSameMath(DType at, DType bt, DType ct, bool ta, bool tb, float beta)
    {
        const int m = 37, n = 29, k = 45;
        const float alpha = -1.25f;
        var r = new Rand();
        using var backend = TestDevices.Create("cpu");
        int[] aShape = ta ? [k, m] : [m, k], bShape = tb ? [n, k] : [k, n];
        float[] av = Gemm16Parity.Draw(r, m * k, at), bv = Gemm16Parity.Draw(r, k * n, bt), cv = Gemm16Parity.Draw(r, m * n, ct);
        using var a = backend.FromArray(av, at, aShape);
        using var b = backend.FromArray(bv, bt, bShape);
        using var c = backend.FromArray(cv, ct, m, n);
        using var pool = new MemoryPool(HostMemory.Alloc, HostMemory.Free);
        MixedGemm.Run(new HostGemmPanels(pool, rankKernels: false), ta, tb, m, n, k, alpha,
            new GemmOperand(a.Ptr, at, a.Cols), new GemmOperand(b.Ptr, bt, b.Cols), beta, new GemmOperand(c.Ptr, ct, c.Cols), panelFloats: 64);
        var p = Oracle.MatMul(Oracle.D(av), aShape[0], aShape[1], ta, Oracle.D(bv), bShape[0], bShape[1], tb);
        var pa = Oracle.MatMul(Oracle.Abs(av), aShape[0], aShape[1], ta, Oracle.Abs(bv), bShape[0], bShape[1], tb);
        var want = p.Select((v, i) => alpha * v + beta * cv[i]).ToArray();
        var abs = pa.Select((v, i) => Math.Abs(alpha) * v + Math.Abs(beta * cv[i])).ToArray();
        Oracle.AssertClose(c.ToArray(), want, abs, Gemm16Parity.Tolerance(ct), $"{at.Name()}x{bt.Name()}->{ct.Name()}");
        Assert.That(pool.Stats.PeakInUse, Is.AtMost(3 * 256), "every panel is at most 64 floats (a 256-byte block)");
    }

    [Test]
    public void AnEmptyInnerDimensionScalesC()
    {
        using var backend = TestDevices.Create("cpu");
        using var a = backend.Zeros(DType.BF16, 3, 0);
        using var b = backend.Zeros(DType.F32, 0, 4);
        using var c = backend.FromArray(Enumerable.Repeat(2f, 12).ToArray(), DType.BF16, 3, 4);
        backend.Gemm(a, false, b, false, c, 1f, 0.5f);
        Assert.That(c.ToArray(), Is.All.EqualTo(1f));
    }

    [Test]
    public void TheEmulatedGemmExTakesOnlyCublasGemmExsTypeCombinations()
    {
        Assert.That(EmulatedRuntime.TryCreate(out var emu, out var why), Is.True, why);
        using var runtime = emu!;
        var e = Assert.Throws<ArgumentException>(() =>
            runtime.GemmEx(false, false, 1, 1, 1, 1f, 0, DType.F32, 1, 0, DType.BF16, 1, 0f, 0, DType.F32, 1));
        Assert.That(e!.Message, Does.Contain("one 16-bit type"));
        Assert.Throws<ArgumentException>(() => runtime.GemmEx(false, false, 1, 1, 1, 1f, 0, DType.BF16, 1, 0, DType.BF16, 1, 0f, 0, DType.F16, 1));
        Assert.That(runtime.AllowTf32, Is.False, "TF32 is off by default");
    }
}
