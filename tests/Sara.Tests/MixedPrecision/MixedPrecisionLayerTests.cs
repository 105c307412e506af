// SARA / Mo-SARA / dense layers with a 16-bit W0, 16-bit activations and 16-bit frozen Mo-SARA factors, on the CPU
// backend and on the emulator (the GPU's kernels); fp32 master parameters and gradients.
using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Layers;
using Sara.Native.Optim;
using Sara.Native.Tensors;
using Sara.Tests.DeviceCheck;
using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.Support;

namespace Sara.Tests.MixedPrecision;

public class MixedPrecisionLayerTests
{
    public static IEnumerable<TestCaseData> W0Cases() =>
        from d in TestDevices.Emulated
        from c in SaraLayerParity.Cases16()
        select new TestCaseData(d, c).SetArgDisplayNames(d, c.Label);

    [TestCaseSource(nameof(W0Cases))]
    public void SaraWithA16BitW0MatchesTheOracleOnTheSameValues(string device, ParityCase c)
    {
        using var backend = TestDevices.Create(device);
        ParityAssert.AllPass(c.Run(backend, new Rand()));
    }

    public static IEnumerable<TestCaseData> ActivationCases() =>
        from d in TestDevices.Emulated
        from c in SaraLayerParity.CasesActivations16()
        select new TestCaseData(d, c).SetArgDisplayNames(d, c.Label);

    // Y and dX are 16-bit (held to one rounding); the fp32 master gradients dlambda, dA, dB, dbias come from exact 16-bit
    // inputs (1e-5 of the float64 oracle, whose backward SaraLinearGradientTests.OracleGradientsMatchFiniteDifferences checks).
    [TestCaseSource(nameof(ActivationCases))]
    public void SaraWith16BitActivationsMatchesTheOracle(string device, ParityCase c)
    {
        using var backend = TestDevices.Create(device);
        ParityAssert.AllPass(c.Run(backend, new Rand()));
    }

    // Mo-SARA with 16-bit W0, 16-bit frozen A and B and 16-bit activations, against the same layer with float32 copies of
    // the same values (the float32 layer is held to the float64 oracle in Layers/MoSaraLinearTests).
    [TestCase("cpu", DType.BF16, DType.F32, DType.F32)]
    [TestCase("emu", DType.BF16, DType.F32, DType.F32)]
    [TestCase("emu", DType.F16, DType.F32, DType.F32)]
    [TestCase("cpu", DType.F16, DType.BF16, DType.F32)]
    [TestCase("emu", DType.F16, DType.BF16, DType.F32)]
    [TestCase("cpu", DType.BF16, DType.BF16, DType.BF16)]
    [TestCase("emu", DType.BF16, DType.BF16, DType.BF16)]
    [TestCase("cpu", DType.F32, DType.F16, DType.F16)]
    [TestCase("emu", DType.F32, DType.F16, DType.F16)]
    [TestCase("emu", DType.BF16, DType.F16, DType.BF16)]
    public void MoSaraWith16BitFrozenTensorsEqualsTheFloat32Layer(string device, DType w0Type, DType factorType, DType activations)
    {
        using var backend = TestDevices.Create(device);
        const int t = 37, n = 48, m = 29, k = 6, e = 3;
        var r = new Rand();
        float[] xs = Gemm16Parity.Draw(r, t * n, activations), w0 = Gemm16Parity.Draw(r, m * n, w0Type), bias = r.Normal(m),
            a = Gemm16Parity.Draw(r, m * k, factorType), b = Gemm16Parity.Draw(r, k * n, factorType, 1 / Math.Sqrt(n)),
            g = Gemm16Parity.Draw(r, t * m, activations), lambdas = r.Normal(e * k, 0.5), wg = r.Normal(e * k, 0.3), bg = r.Normal(e, 0.1);
        (float[] Y, float[] DX, float[] DLambda, float[] DWg, float[] Dbg) Run(DType w, DType f, DType x16)
        {
            using var layer = MoSaraLinear.FromFactors(backend, "l", w0, m, n, bias, a, b, k,
                new MoSaraOptions { Experts = e, Scale = 0.7f, W0DType = w, FactorDType = f }, lambdas, wg, bg);
            Assert.That((layer.W0.DType, layer.A.DType, layer.B.DType), Is.EqualTo((w, f, f)));
            var tape = new Tape();
            using var x = new Variable(backend.FromArray(xs, x16, t, n), requiresGrad: true);
            using var y = layer.Forward(tape, x);
            Assert.That(y.Value.DType, Is.EqualTo(x16), "the output takes the input's dtype");
            using var seed = backend.FromArray(g, x16, t, m);
            tape.Seed(y, seed);
            tape.Backward();
            Assert.That(x.Grad!.DType, Is.EqualTo(x16));
            Assert.That(layer.Parameters.Select(p => p.Grad!.DType), Is.All.EqualTo(DType.F32), "master gradients are float32");
            return (y.Value.ToArray(), x.Grad.ToArray(), layer.Lambdas.Grad!.ToArray(), layer.Wg.Grad!.ToArray(), layer.Bg.Grad!.ToArray());
        }
        var want = Run(DType.F32, DType.F32, DType.F32);
        var got = Run(w0Type, factorType, activations);
        var tol = Gemm16Parity.Tolerance(activations);
        Oracle.AssertClose(got.Y, Oracle.D(want.Y), tol, "Y");
        Oracle.AssertClose(got.DX, Oracle.D(want.DX), tol, "dX");
        Oracle.AssertClose(got.DLambda, Oracle.D(want.DLambda), 1e-5, "dLambda");
        Oracle.AssertClose(got.DWg, Oracle.D(want.DWg), 1e-5, "dWg");
        Oracle.AssertClose(got.Dbg, Oracle.D(want.Dbg), 1e-5, "dbg");
    }

    [TestCase("cpu"), TestCase("emu")]
    public void ASaraLayerOverABf16W0TrainsWithFloat32MasterWeights(string device)
    {
        using var backend = TestDevices.Create(device);
        var task = new Layers.SaraTraining(seed: new Rand().Int(0, 1 << 30));
        var losses = task.Train(backend, 100, new SaraOptions { FixedRank = task.K, W0DType = DType.BF16 });
        Assert.That(losses[^1], Is.Not.NaN.And.LessThan(0.05 * losses[0]), $"loss {losses[0]:E3} -> {losses[^1]:E3}");
    }

    [Test]
    public void ADenseLayerOverABf16WeightHasAFloat32GradientAndAdamWRefusesIt()
    {
        using var backend = TestDevices.Create("cpu");
        var r = new Rand();
        const int t = 9, n = 12, m = 7;
        var w = Gemm16Parity.Draw(r, m * n, DType.BF16);
        using var dense = new Linear(backend, w, m, n, weightType: DType.BF16);
        using var reference = new Linear(backend, w, m, n);
        var xs = r.Normal(t * n);
        float[] Grad(Linear l)
        {
            var tape = new Tape();
            using var x = new Variable(backend.FromArray(xs, t, n));
            using var y = l.Forward(tape, x);
            using var seed = backend.FromArray(Enumerable.Repeat(1f, t * m).ToArray(), t, m);
            tape.Seed(y, seed);
            tape.Backward();
            return l.Weight.Grad!.ToArray();
        }
        Oracle.AssertClose(Grad(dense), Oracle.D(Grad(reference)), 1e-5, "dW");
        Assert.That(dense.Weight.Grad!.DType, Is.EqualTo(DType.F32));
        var e = Assert.Throws<ArgumentException>(() => new AdamW(dense.Parameters, new AdamWOptions()));
        Assert.That(e!.Message, Does.Contain("bf16").And.Contain("float32 master weights"));
    }

    [TestCase("cpu"), TestCase("emu")]
    public void Float32OnlyOpsNameTheOpAndTheTensor(string device)
    {
        using var backend = TestDevices.Create(device);
        using var x = backend.Zeros(DType.BF16, 3, 4);
        using var y = backend.Zeros(3, 4);
        using var v = backend.Zeros(4);
        var relu = Assert.Throws<ArgumentException>(() => backend.Relu(x, y));
        Assert.That(relu!.Message, Does.Contain("Relu: 'x' must be f32; got [3, 4] bf16"));
        Assert.That(relu.ParamName, Is.EqualTo("x"));
        Assert.That(Assert.Throws<ArgumentException>(() => backend.ScaleColumns(y, v, x))!.Message, Does.Contain("ScaleColumns: 'y' must be f32"));
        Assert.That(Assert.Throws<ArgumentException>(() => backend.MseLoss(x, y, y))!.Message, Does.Contain("MseLoss: 'pred' must be f32"));
        using var p = backend.Zeros(DType.F16, 4);
        Assert.That(Assert.Throws<ArgumentException>(() => backend.AdamW(p, v, v, v, new AdamWOptions(), 1))!.Message,
            Does.Contain("AdamW: 'param' must be f32; got [4] f16"));
        using var wg = backend.Zeros(2, 4);
        using var bg = backend.Zeros(2);
        using var gates = backend.Zeros(3, 2);
        Assert.That(Assert.Throws<ArgumentException>(() => backend.RoutingForward(x, wg, bg, wg, 0, gates, y, y))!.Message,
            Does.Contain("RoutingForward: 'h' must be f32"));
        using var square = backend.Zeros(DType.BF16, 2, 2);
        using var factor = backend.Zeros(2, 2);
        Assert.That(Assert.Throws<ArgumentException>(() => backend.Cholesky(square, factor))!.Message, Does.Contain("Cholesky: 'a' must be f32"));
    }
}
