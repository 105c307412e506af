using Sara.Native.Backends;
using Sara.Native.Svd;
using Sara.Tests.Support;

namespace Sara.Tests.Svd;

/// <summary>
/// The block Krylov SVD (KrylovSvd) against float64 LAPACK: the dense path, the Krylov path on known and on LLM-like
/// flat spectra (DESIGN 1.4 accuracy targets: >= 99 % of the best rank-k energy, leading k/2 values within 1e-2),
/// rank-deficient inputs, and determinism for a seed.
/// </summary>
public class KrylovSvdTests
{
    private static readonly KrylovOptions Small = new() { BlockSize = 8, Oversampling = 32, Probes = 8, LanczosSteps = 4 };

    [TestCase("cpu", 50, 80), TestCase("cpu", 80, 50), TestCase("emu", 50, 80), TestCase("emu", 80, 50)]
    public void TheDensePathIsTheExactSvd(string device, int m, int n)
    {
        using var backend = TestDevices.Create(device);
        var data = new Rand().Normal((long)m * n);
        using var w = backend.FromArray(data, m, n);
        using var svd = KrylovSvd.Compute(backend, w, 20, Small, 1);
        Assert.That(svd.IsDense, Is.True, "a basis of 20 + 32 columns covers min(m, n) = 50");
        var exact = SubspaceError.SingularValues(Oracle.D(data), m, n);
        Assert.That(svd.Values, Has.Length.EqualTo(50));
        Assert.That(Oracle.RelErr(svd.Values, exact), Is.Not.NaN.And.LessThan(1e-5));
        var (a, b) = svd.Factors(10);
        using (a)
        using (b)
        {
            // W ~ A diag(s) B: the residual is the best rank-10 residual, sqrt(sum_{i > 10} s_i^2).
            var approx = Oracle.MatMul(Oracle.ScaleColumns(Oracle.D(a.ToArray()), m, 10, exact[..10]), m, 10, false, Oracle.D(b.ToArray()), 10, n, false);
            var residual = Math.Sqrt(Oracle.Add(Oracle.D(data), approx, -1).Sum(x => x * x));
            var best = Math.Sqrt(exact[10..].Sum(x => x * x));
            Assert.That(residual / best - 1, Is.Not.NaN.And.LessThan(1e-4));
            AssertOrthonormalColumns(a.ToArray(), m, 10, 1e-5);
            AssertOrthonormalColumns(Transpose(b.ToArray(), 10, n), n, 10, 1e-5);
        }
    }

    [TestCase("cpu", 300, 500), TestCase("cpu", 500, 300), TestCase("emu", 300, 500), TestCase("emu", 500, 300)]
    public void TheKrylovPathMatchesAKnownFlatSpectrum(string device, int m, int n)
    {
        using var backend = TestDevices.Create(device);
        var r = Math.Min(m, n);
        var s = SvdTestMatrices.PowerLaw(r, 0.5);
        var data = SvdTestMatrices.WithSpectrumHouseholder(m, n, s, SvdTestMatrices.RunSeed);
        using var w = backend.FromArray(data, m, n);
        const int k = 32;
        using var svd = KrylovSvd.Compute(backend, w, k, Small, 5);
        Assert.That(svd.IsDense, Is.False);
        Assert.That(svd.Values, Has.Length.EqualTo(Small.Width(k)));
        var worst = Enumerable.Range(0, k / 2).Max(i => Math.Abs(svd.Values[i] - s[i]) / s[i]);
        TestContext.Out.WriteLine($"{device} {m}x{n} k={k}: leading k/2 worst relative error {worst:E2}, energy {Energy(backend, svd, data, m, n, k, s):F5}");
        Assert.That(worst, Is.Not.NaN.And.LessThan(1e-2));
        Assert.That(Energy(backend, svd, data, m, n, k, s), Is.Not.NaN.And.GreaterThan(0.99));
    }

    /// <summary>The LLM-scale case at a size CI can afford (the 4096 x 4096 and 4096 x 11008 figures are in bench/results).</summary>
    [TestCase("flat"), TestCase("llm-like")]
    public void LlmFlatSpectraAtRank256MeetTheAccuracyTargets(string spectrum)
    {
        using var backend = new CpuBackend();
        const int m = 1024, n = 2048, k = 256;
        var data = spectrum == "flat"
            ? SvdTestMatrices.WithSpectrumHouseholder(m, n, SvdTestMatrices.PowerLaw(m, 0.5), SvdTestMatrices.RunSeed)
            : SvdTestMatrices.LlmLike(m, n, 256, 1.0, 8e-4, SvdTestMatrices.RunSeed);
        using var w = backend.FromArray(data, m, n);
        var exact = TruncatedSvd.ExactSingularValues(backend, w).Select(x => (double)x).ToArray();
        using var svd = KrylovSvd.Compute(backend, w, k, new KrylovOptions(), 11);
        var worst = Enumerable.Range(0, k / 2).Max(i => Math.Abs(svd.Values[i] - exact[i]) / exact[i]);
        var energy = Energy(backend, svd, data, m, n, k, exact);
        TestContext.Out.WriteLine($"{spectrum} {m}x{n} k={k}, width {svd.Values.Length}: leading k/2 worst {worst:E2}, energy {energy:F5}");
        Assert.That(worst, Is.Not.NaN.And.LessThan(1e-2));
        Assert.That(energy, Is.Not.NaN.And.GreaterThanOrEqualTo(0.99));

        using var again = KrylovSvd.Compute(backend, w, k, new KrylovOptions(), 11);
        Assert.That(again.Values, Is.EqualTo(svd.Values), "same seed, same bits");
        var (a1, b1) = svd.Factors(k);
        var (a2, b2) = again.Factors(k);
        using (a1) using (b1) using (a2) using (b2)
            Assert.That(a2.ToArray().SequenceEqual(a1.ToArray()) && b2.ToArray().SequenceEqual(b1.ToArray()), Is.True, "same seed, same factors");
        using var other = KrylovSvd.Compute(backend, w, k, new KrylovOptions(), 12);
        Assert.That(other.Values, Is.Not.EqualTo(svd.Values), "another seed draws another sketch");
    }

    /// <summary>
    /// q/k/v/o-style batches: three matrices stacked, one batched GEMM per step; on the host backends each result has
    /// the bits of its own run (and so does its nuclear-norm estimate and its plan entry).
    /// </summary>
    [TestCase("cpu", 120, 300), TestCase("cpu", 300, 120), TestCase("emu", 120, 300)]
    public void ABatchGivesEachMatrixTheBitsOfItsOwnRun(string device, int m, int n)
    {
        using var backend = TestDevices.Create(device);
        var rand = new Rand();
        const int batch = 3;
        var data = rand.Normal((long)batch * m * n);
        using var stacked = backend.FromArray(data, batch * m, n);
        var seeds = new[] { 4, 5, 6 };
        var many = KrylovSvd.ComputeBatch(backend, stacked, batch, 16, Small, seeds);
        try
        {
            var estimates = NuclearNorm.EstimateBatch(backend, stacked, many, Small.Probes, Small.LanczosSteps, seeds);
            for (var i = 0; i < batch; i++)
            {
                using var w = backend.FromArray(data.AsSpan(i * m * n, m * n), m, n);
                using var one = KrylovSvd.Compute(backend, w, 16, Small, seeds[i]);
                Assert.That(many[i].Values, Is.EqualTo(one.Values), $"item {i}: values");
                var (a1, b1) = many[i].Factors(16);
                var (a2, b2) = one.Factors(16);
                using (a1) using (b1) using (a2) using (b2)
                    Assert.That(a1.ToArray().SequenceEqual(a2.ToArray()) && b1.ToArray().SequenceEqual(b2.ToArray()), Is.True, $"item {i}: factors");
                Assert.That(estimates[i], Is.EqualTo(NuclearNorm.Estimate(backend, w, one, Small.Probes, Small.LanczosSteps, seeds[i])), $"item {i}: estimate");
            }
            var names = new[] { "l.q_proj", "l.k_proj", "l.v_proj" };
            var options = new RankOptions(KMax: 16) { Spectrum = SpectrumMode.Estimated, Krylov = Small };
            var plans = RankPlanner.FactorizeBatch(backend, names, stacked, options);
            for (var i = 0; i < batch; i++)
            {
                using var w = backend.FromArray(data.AsSpan(i * m * n, m * n), m, n);
                using var single = RankPlanner.Factorize(backend, names[i], w, options);
                using var batched = plans[i];
                Assert.That(batched.Rank with { Seconds = 0 }, Is.EqualTo(single.Rank with { Seconds = 0 }), names[i]);
                Assert.That(batched.Rank.Estimate, Is.Not.Null, "estimated");
                Assert.That(batched.A.ToArray().SequenceEqual(single.A.ToArray()) && batched.B.ToArray().SequenceEqual(single.B.ToArray()), Is.True);
            }
        }
        finally
        {
            foreach (var s in many) s.Dispose();
        }
    }

    [TestCase("cpu"), TestCase("emu")]
    public void ARankDeficientMatrixGivesFiniteOrthonormalFactors(string device)
    {
        using var backend = TestDevices.Create(device);
        const int m = 200, n = 300, rank = 10;
        var rand = new Rand();
        var data = Oracle.MatMul(Oracle.D(rand.Normal(m * rank)), m, rank, false, Oracle.D(rand.Normal(rank * n)), rank, n, false);
        var w32 = Array.ConvertAll(data, x => (float)x);
        using var w = backend.FromArray(w32, m, n);
        using var svd = KrylovSvd.Compute(backend, w, 32, Small, 3);
        var exact = SubspaceError.SingularValues(Oracle.D(w32), m, n);
        for (var i = 0; i < rank; i++) Assert.That(Math.Abs(svd.Values[i] - exact[i]) / exact[i], Is.Not.NaN.And.LessThan(1e-4), $"s_{i + 1}");
        Assert.That(svd.Values.Skip(rank).Max(), Is.Not.NaN.And.LessThan(1e-4 * exact[0]), "the rest is rounding");
        var (a, b) = svd.Factors(32);
        using (a)
        using (b)
        {
            Assert.That(a.ToArray().All(float.IsFinite) && b.ToArray().All(float.IsFinite), Is.True);
            AssertOrthonormalColumns(Transpose(b.ToArray(), 32, n), n, 32, 1e-3);
        }
    }

    /// <summary>Weights whose squares overflow (or underflow) float32 are planned on a power-of-two scaled copy.</summary>
    [TestCase("cpu", 1e25f, 60, 80), TestCase("cpu", 1e-25f, 60, 80), TestCase("cpu", 1e25f, 300, 400), TestCase("emu", 1e25f, 60, 80)]
    public void WeightsFarFromUnitSizeGetTheRankOfTheirShape(string device, float size, int m, int n)
    {
        using var backend = TestDevices.Create(device);
        var unit = new Rand().Normal((long)m * n);
        var options = new RankOptions(KMin: 1, KMax: 64) { Spectrum = SpectrumMode.Estimated, Krylov = Small };
        using var w1 = backend.FromArray(unit, m, n);
        using var w2 = backend.FromArray(unit.Select(x => x * size).ToArray(), m, n);
        using var one = RankPlanner.Factorize(backend, "l", w1, options);
        using var big = RankPlanner.Factorize(backend, "l", w2, options);
        Assert.That(big.Rank.K, Is.EqualTo(one.Rank.K));
        Assert.That(Math.Abs(big.Rank.FractionReached - one.Rank.FractionReached), Is.Not.NaN.And.LessThan(1e-5));
        Assert.That(Math.Abs(big.SingularValues[0] / size / one.SingularValues[0] - 1), Is.Not.NaN.And.LessThan(1e-5));
        Assert.That(big.A.ToArray().All(float.IsFinite) && big.B.ToArray().All(float.IsFinite), Is.True);
    }

    [Test]
    public void BadArgumentsAreRejected()
    {
        using var backend = new CpuBackend();
        using var w = backend.Zeros(20, 30);
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => KrylovSvd.Compute(backend, w, 0, Small, 1))!.ParamName, Is.EqualTo("vectors"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => KrylovSvd.Compute(backend, w, 21, Small, 1))!.ParamName, Is.EqualTo("vectors"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => KrylovSvd.Compute(backend, w, 5, Small with { BlockSize = 0 }, 1))!.ParamName,
            Is.EqualTo("BlockSize"));
        using var svd = KrylovSvd.Compute(backend, w, 5, Small, 1);
        Assert.That(svd.Values.All(v => v == 0), Is.True, "a zero matrix has zero singular values");
        Assert.Throws<ArgumentOutOfRangeException>(() => svd.Factors(6));
    }

    /// <summary>||W V_k^T||_F^2 / sum_{i &lt;= k} s_i^2 with V_k^T = B of the factors.</summary>
    internal static double Energy(Backend backend, KrylovSvd svd, float[] data, int m, int n, int k, double[] exact)
    {
        var (a, b) = svd.Factors(k);
        using (a)
        using (b)
        using (var w = backend.FromArray(data, m, n))
        using (var wv = backend.Empty(m, k))
        {
            backend.Gemm(w, false, b, true, wv);
            var captured = wv.ToArray().Sum(x => (double)x * x);
            return captured / exact.Take(k).Sum(x => x * x);
        }
    }

    private static float[] Transpose(float[] a, int rows, int cols)
    {
        var t = new float[a.Length];
        for (var i = 0; i < rows; i++)
            for (var j = 0; j < cols; j++) t[(long)j * rows + i] = a[(long)i * cols + j];
        return t;
    }

    private static void AssertOrthonormalColumns(float[] q, int rows, int cols, double tolerance)
    {
        var d = Oracle.D(q);
        var gram = Oracle.MatMul(d, rows, cols, true, d, rows, cols, false);
        var worst = 0.0;
        for (var i = 0; i < cols; i++)
            for (var j = 0; j < cols; j++) worst = Math.Max(worst, Math.Abs(gram[i * cols + j] - (i == j ? 1 : 0)));
        Assert.That(worst, Is.Not.NaN.And.LessThan(tolerance), "Q^T Q = I");
    }
}
