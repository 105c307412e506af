// Gemm16Parity.cs — Backend.Gemm with 16-bit operands (cublasGemmEx on the GPU, its stand-in on the emulator, MixedGemm's
// panels elsewhere) against the float64 oracle fed the same 16-bit values. Used by MixedPrecision/MixedGemmTests
// (cpu, emu) and by bench/Sara.DeviceCheck on a real GPU.
using Sara.Native.Backends;
using Sara.Native.Tensors;
using Sara.Tests.Support;

namespace Sara.Tests.DeviceCheck.Parity;

public static class Gemm16Parity
{
    /// <summary>Tolerance of an output of this dtype: float32 accumulation (1e-5), or one rounding into bf16 / f16.</summary>
    public static double Tolerance(DType output) => output switch
    {
        DType.BF16 => 4e-3,
        DType.F16 => 5e-4,
        _ => 1e-5,
    };

    // (a, b, c): the GEMMs a mixed-precision layer runs (f32 activations x 16-bit W0, 16-bit activations x 16-bit W0,
    // a merge into a 16-bit W0) and the rest of the combinations.
    public static readonly (DType A, DType B, DType C)[] Types =
    [
        (DType.F32, DType.BF16, DType.F32), (DType.BF16, DType.F32, DType.F32), (DType.BF16, DType.BF16, DType.F32),
        (DType.BF16, DType.BF16, DType.BF16), (DType.F16, DType.F16, DType.F32), (DType.F16, DType.F16, DType.F16),
        (DType.F32, DType.F32, DType.BF16), (DType.F32, DType.F16, DType.F16), (DType.BF16, DType.F16, DType.F32),
        (DType.F32, DType.BF16, DType.BF16),
    ];

    // (m, n, k): ragged, 1s, k = 1, a wide n.
    public static readonly (int M, int N, int K)[] Shapes = [(1, 1, 1), (7, 33, 65), (64, 17, 130), (129, 70, 1), (5, 300, 257)];

    public static IEnumerable<ParityCase> Cases() =>
        from t in Types.Select((t, i) => (t, i))
        from s in Shapes.Select((s, j) => (s, j))
        let ta = (t.i + s.j) % 2 == 1
        let tb = (t.i + s.j) % 3 != 0
        let beta = s.j % 2 == 0 ? 0f : 0.5f
        select new ParityCase("gemm-16bit", $"{t.t.A.Name()}x{t.t.B.Name()}->{t.t.C.Name()} m{s.s.M} n{s.s.N} k{s.s.K} tA{(ta ? 1 : 0)} tB{(tb ? 1 : 0)} beta{beta}",
            (backend, r) => Run(backend, s.s.M, s.s.N, s.s.K, ta, tb, t.t.A, t.t.B, t.t.C, beta, r));

    /// <summary>Values exactly representable in <paramref name="dtype"/> (normal draws rounded to it).</summary>
    public static float[] Draw(Rand r, long count, DType dtype, double std = 1)
    {
        var v = r.Normal(count, std);
        if (dtype == DType.F32) return v;
        for (var i = 0; i < v.Length; i++) v[i] = Precision.From16(dtype, Precision.To16(dtype, v[i]));
        return v;
    }

    public static IReadOnlyList<ParityCheck> Run(Backend backend, int m, int n, int k, bool transA, bool transB,
        DType aType, DType bType, DType cType, float beta, Rand r)
    {
        const float alpha = 0.75f;
        int[] aShape = transA ? [k, m] : [m, k], bShape = transB ? [n, k] : [k, n];
        float[] av = Draw(r, (long)m * k, aType), bv = Draw(r, (long)k * n, bType), cv = Draw(r, (long)m * n, cType);
        using var a = backend.FromArray(av, aType, aShape);
        using var b = backend.FromArray(bv, bType, bShape);
        using var c = beta == 0f ? Poison.Tensor(backend, cType, m, n) : backend.FromArray(cv, cType, m, n);
        backend.Gemm(a, transA, b, transB, c, alpha, beta);

        double[] Reference(double[] ad, double[] bd, double[] cd)
        {
            var p = Oracle.MatMul(ad, aShape[0], aShape[1], transA, bd, bShape[0], bShape[1], transB);
            for (var i = 0; i < p.Length; i++) p[i] = alpha * p[i] + (beta == 0f ? 0 : beta * cd[i]);
            return p;
        }
        var want = Reference(Oracle.D(av), Oracle.D(bv), Oracle.D(cv));
        var abs = Reference(Oracle.Abs(av), Oracle.Abs(bv), Oracle.Abs(cv));
        return [ParityCheck.Of($"C ({cType.Name()})", c.ToArray(), want, abs, Tolerance(cType))];
    }
}
