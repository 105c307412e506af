// SaraLayerParity.cs — SaraLinear's forward and every gradient (dX, dlambda, dA, dB, dbias) against the float64 oracle,
// with a float32, bf16 or f16 W0 (the oracle reads the same 16-bit values), and with 16-bit activations X, Y, dY, dX.
// Used by Layers/SaraLinearGradientTests and MixedPrecision/MixedPrecisionLayerTests (cpu, emu) and by
// bench/Sara.DeviceCheck on a real GPU.
using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Layers;
using Sara.Native.Tensors;
using Sara.Tests.Layers;
using Sara.Tests.Support;

namespace Sara.Tests.DeviceCheck.Parity;

public static class SaraLayerParity
{
    public static readonly (int T, int N, int M, int K)[] Shapes =
        [(1, 7, 5, 1), (13, 33, 17, 4), (65, 40, 70, 9), (37, 129, 65, 33), (100, 64, 48, 40)];

    public static IEnumerable<ParityCase> Cases() =>
        Shapes.Select(s => new ParityCase("sara-layer", $"T{s.T} n{s.N} m{s.M} k{s.K}",
            (backend, r) => Run(backend, s.T, s.N, s.M, s.K, r)));

    /// <summary>The same shapes with a bf16 and an f16 W0 (the GEMMs with W0 then run as GemmEx or MixedGemm panels).</summary>
    public static IEnumerable<ParityCase> Cases16() =>
        from w in new[] { DType.BF16, DType.F16 }
        from s in Shapes
        select new ParityCase("sara-layer-16bit", $"W0 {w.Name()} T{s.T} n{s.N} m{s.M} k{s.K}",
            (backend, r) => Run(backend, s.T, s.N, s.M, s.K, r, w));

    /// <summary>bf16 and f16 activations (X, Y and their gradients) over a float32 and a bf16 W0, on the same shapes.</summary>
    public static IEnumerable<ParityCase> CasesActivations16() =>
        from a in new[] { DType.BF16, DType.F16 }
        from w in new[] { DType.F32, DType.BF16 }
        from s in Shapes
        select new ParityCase("sara-layer-16bit-activations", $"X {a.Name()} W0 {w.Name()} T{s.T} n{s.N} m{s.M} k{s.K}",
            (backend, r) => Run(backend, s.T, s.N, s.M, s.K, r, w, a));

    /// <summary>
    /// W0 stored as <paramref name="w0Type"/>; activations X, Y and their gradients as <paramref name="activations"/>.
    /// Outputs from exact inputs in float32 are held to 1e-5; 16-bit outputs (Y, dX) to one rounding (bf16 4e-3, f16 5e-4).
    /// </summary>
    public static IReadOnlyList<ParityCheck> Run(Backend backend, int t, int n, int m, int k, Rand r,
        DType w0Type = DType.F32, DType activations = DType.F32)
    {
        var o = new SaraOracle(t, n, m, k) { Scale = 0.5 };
        float[] xs = Gemm16Parity.Draw(r, (long)t * n, activations), w0 = Gemm16Parity.Draw(r, (long)m * n, w0Type), bias = r.Normal(m),
            a = r.Normal((long)m * k), b = r.Normal((long)k * n), lam = r.Normal(k), g = Gemm16Parity.Draw(r, (long)t * m, activations);
        (o.X, o.W0, o.Bias, o.A, o.B, o.Lambda) = (Oracle.D(xs), Oracle.D(w0), Oracle.D(bias), Oracle.D(a), Oracle.D(b), Oracle.D(lam));
        var tolerance = Gemm16Parity.Tolerance(activations);

        using var layer = SaraLinear.FromFactors(backend, "layer", w0, m, n, bias, a, b, k, lam,
            new SaraOptions { Scale = 0.5f, TrainBias = true, W0DType = w0Type });
        var tape = new Tape();
        using var x = new Variable(backend.FromArray(xs, activations, t, n), requiresGrad: true, "x");
        using var y = layer.Forward(tape, x);
        // The same computation on absolute values: the cancellation-aware floor of Oracle.RelErr.
        var abs = new SaraOracle(t, n, m, k)
        {
            X = Oracle.Abs(xs), W0 = Oracle.Abs(w0), Bias = Oracle.Abs(bias), A = Oracle.Abs(a), B = Oracle.Abs(b),
            Lambda = Oracle.Abs(lam), Scale = 0.5,
        };
        var checks = new List<ParityCheck> { ParityCheck.Of("Y", y.Value.ToArray(), o.Forward(), abs.Forward(), tolerance) };

        using var seed = backend.FromArray(g, activations, t, m);
        tape.Seed(y, seed);
        tape.Backward();

        var (dX, dLambda, dA, dB, dBias) = o.Backward(Oracle.D(g));
        var absGrads = abs.Backward(Oracle.Abs(g));
        checks.Add(ParityCheck.Of("dX", x.Grad!.ToArray(), dX, absGrads.dX, tolerance));
        checks.Add(ParityCheck.Of("dlambda", layer.Lambda.Grad!.ToArray(), dLambda, absGrads.dLambda, 1e-5));
        checks.Add(ParityCheck.Of("dA", layer.A.Grad!.ToArray(), dA, absGrads.dA, 1e-5));
        checks.Add(ParityCheck.Of("dB", layer.B.Grad!.ToArray(), dB, absGrads.dB, 1e-5));
        checks.Add(ParityCheck.Of("dbias", layer.Bias!.Grad!.ToArray(), dBias, absGrads.dBias, 1e-5));
        return checks;
    }
}
