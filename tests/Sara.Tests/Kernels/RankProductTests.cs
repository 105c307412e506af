using Sara.Native.Backends;
using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.Support;

namespace Sara.Tests.Kernels;

/// <summary>
/// The split-K rank-k kernels (kernels/lowrank.cu) on the shapes that reach each of their paths: 128-bit and scalar
/// loads, several token tiles, several rank tiles (k &gt; 64), many slices of d with a ragged last stage, and the
/// finish walk, against float64 oracles with poisoned outputs; and bitwise equal results run after run.
/// </summary>
public class RankProductTests
{
    // (T, d, k): d % 4 == 0 takes the 128-bit path (for the backward also k % 4 == 0); T over 4096 / Kt gives several
    // token tiles; k > 64 several rank tiles; d not a multiple of 32 a partial last stage.
    private static readonly (int T, int D, int K)[] Shapes =
    [
        (520, 768, 16), (300, 1024, 64), (130, 4100, 32), (257, 1023, 40), (129, 516, 100), (1, 4096, 7), (4097, 36, 1),
        (70, 2052, 12), (200, 333, 129),
    ];

    public static IEnumerable<TestCaseData> Cases() =>
        Shapes.Select(s => new TestCaseData(s.T, s.D, s.K).SetArgDisplayNames($"T{s.T}", $"d{s.D}", $"k{s.K}"));

    [TestCaseSource(nameof(Cases))]
    public void Forward_and_backward_rank_products_match_float64_and_repeat_bitwise(int t, int d, int k)
    {
        using var backend = TestDevices.Create("emu");
        var r = new Rand();
        float[] xs = r.Normal((long)t * d), bs = r.Normal((long)k * d), lam = r.Normal(k), as_ = r.Normal((long)d * k), hs = r.Normal((long)t * k);
        using var x = backend.FromArray(xs, t, d);
        using var b = backend.FromArray(bs, k, d);
        using var lambda = backend.FromArray(lam, k);
        using var a = backend.FromArray(as_, d, k);
        using var hIn = backend.FromArray(hs, t, k);

        // Forward: H = X B^T, Z = H (.) lambda.
        var hRef = Oracle.MatMul(Oracle.D(xs), t, d, false, Oracle.D(bs), k, d, true);
        var hAbs = Oracle.MatMul(Oracle.Abs(xs), t, d, false, Oracle.Abs(bs), k, d, true);
        float[] RunForward(out float[] zOut)
        {
            using var h = Poison.Tensor(backend, t, k);
            using var z = Poison.Tensor(backend, t, k);
            backend.LowRankForward(x, b, lambda, h, z);
            zOut = z.ToArray();
            return h.ToArray();
        }
        var h1 = RunForward(out var z1);
        Oracle.AssertClose(h1, hRef, hAbs, 1e-5, "H");
        Oracle.AssertClose(z1, Oracle.ScaleColumns(hRef, t, k, Oracle.D(lam)), Oracle.ScaleColumns(hAbs, t, k, Oracle.Abs(lam)), 1e-5, "Z");
        var h2 = RunForward(out var z2);
        Assert.That(Bits(h2), Is.EqualTo(Bits(h1)), "H bitwise run to run");
        Assert.That(Bits(z2), Is.EqualTo(Bits(z1)), "Z bitwise run to run");

        // Backward: dZ = s X A (X as the upstream gradient G, T x d), dH = dZ (.) lambda, dlambda = colsum(dZ (.) H).
        const float s = 0.7f;
        var dzRef = Oracle.MatMul(Oracle.D(xs), t, d, false, Oracle.D(as_), d, k, false).Select(v => s * v).ToArray();
        var dzAbs = Oracle.MatMul(Oracle.Abs(xs), t, d, false, Oracle.Abs(as_), d, k, false).Select(v => s * v).ToArray();
        (float[] Dz, float[] Dh, float[] Dl) RunBackward()
        {
            using var dz = Poison.Tensor(backend, t, k);
            using var dh = Poison.Tensor(backend, t, k);
            using var dl = Poison.Tensor(backend, k);
            backend.LowRankBackwardRank(x, a, hIn, lambda, s, dz, dh, dl);
            return (dz.ToArray(), dh.ToArray(), dl.ToArray());
        }
        var g1 = RunBackward();
        Oracle.AssertClose(g1.Dz, dzRef, dzAbs, 1e-5, "dZ");
        Oracle.AssertClose(g1.Dh, Oracle.ScaleColumns(dzRef, t, k, Oracle.D(lam)), Oracle.ScaleColumns(dzAbs, t, k, Oracle.Abs(lam)), 1e-5, "dH");
        Oracle.AssertClose(g1.Dl, Oracle.ColumnSum(Oracle.Mul(dzRef, Oracle.D(hs)), t, k),
            Oracle.ColumnSum(Oracle.Mul(dzAbs, Oracle.Abs(hs)), t, k), 1e-5, "dlambda");
        var g2 = RunBackward();
        Assert.That(Bits(g2.Dz), Is.EqualTo(Bits(g1.Dz)), "dZ bitwise");
        Assert.That(Bits(g2.Dh), Is.EqualTo(Bits(g1.Dh)), "dH bitwise");
        Assert.That(Bits(g2.Dl), Is.EqualTo(Bits(g1.Dl)), "dlambda bitwise");
    }

    internal static int[] Bits(float[] v) => Array.ConvertAll(v, BitConverter.SingleToInt32Bits);

    [Test]
    public void Plans_fill_the_machine_at_the_reference_shapes_and_cover_every_element()
    {
        foreach (var k in new[] { 16, 32, 64 })
        {
            var p = CudaBackend.PlanRankProduct(4096, 4096, k);
            Assert.That(p.Kt, Is.EqualTo(k), "the smallest rank tile that holds k: no padding");
            Assert.That((long)p.TokenTiles * p.RankTiles * p.Slices, Is.GreaterThanOrEqualTo(CudaBackend.TargetBlocks), $"partial k={k}");
            var f = CudaBackend.PlanFinish(4096, k);
            Assert.That((long)f.RankBlocks * f.RowBlocks, Is.GreaterThanOrEqualTo(CudaBackend.TargetBlocks), $"finish k={k}");
        }
        var r = new Rand();
        for (var i = 0; i < 2000; i++)
        {
            int t = r.Int(1, 20000), d = r.Int(1, 20000), k = r.Int(1, 300);
            var p = CudaBackend.PlanRankProduct(t, d, k);
            Assert.That(p.Span % 32, Is.Zero);
            Assert.That((long)p.Slices * p.Span, Is.GreaterThanOrEqualTo(d), $"T{t} d{d} k{k}: every element of d in a slice");
            Assert.That((long)(p.Slices - 1) * p.Span, Is.Not.NaN.And.LessThan(d), $"T{t} d{d} k{k}: no empty slice");
            Assert.That((long)p.TokenTiles * (4096 / p.Kt), Is.GreaterThanOrEqualTo(t));
            Assert.That((long)p.RankTiles * p.Kt, Is.GreaterThanOrEqualTo(k));
            var f = CudaBackend.PlanFinish(t, k);
            Assert.That(f.Rows % (128 / f.Lanes), Is.Zero);
            Assert.That((long)f.RowBlocks * f.Rows, Is.GreaterThanOrEqualTo(t));
            Assert.That((long)f.RankBlocks * f.Lanes, Is.GreaterThanOrEqualTo(k));
        }
    }
}
