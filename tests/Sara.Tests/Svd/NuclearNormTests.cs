using Sara.Native.Backends;
using Sara.Native.Svd;
using Sara.Tests.Support;

namespace Sara.Tests.Svd;

/// <summary>
/// The block Lanczos estimate of sum_i s_i (NuclearNorm, DESIGN 3.2) against LAPACK's full spectrum: exact where the
/// quadrature must be (a constant tail), within its stated bound on flat LLM-like spectra, deterministic for a seed.
/// </summary>
public class NuclearNormTests
{
    private static readonly KrylovOptions Small = new() { BlockSize = 8, Oversampling = 24, Probes = 8, LanczosSteps = 4 };

    /// <summary>
    /// Head values then a constant tail c: the deflated operator is c^2 I on the complement of the head and its
    /// Krylov-found neighbours, so every probe's quadrature is c exactly and the standard error vanishes.
    /// </summary>
    [TestCase("cpu"), TestCase("emu")]
    public void AConstantTailIsEstimatedExactly(string device)
    {
        using var backend = TestDevices.Create(device);
        const int m = 400, n = 600;
        var s = Enumerable.Range(1, m).Select(i => i <= 20 ? 10.0 / i : 0.25).ToArray();
        var data = SvdTestMatrices.WithSpectrumHouseholder(m, n, s, SvdTestMatrices.RunSeed);
        using var w = backend.FromArray(data, m, n);
        using var svd = KrylovSvd.Compute(backend, w, 32, Small, 2);
        var e = NuclearNorm.Estimate(backend, w, svd, Small.Probes, Small.LanczosSteps, 9);
        var exact = s.Sum();
        TestContext.Out.WriteLine($"{device}: estimate {e.Value:G8} exact {exact:G8} remainder {e.Remainder:G6} over {e.ComplementDimension} dims, SE {e.StandardError:E2}");
        Assert.That(Math.Abs(e.Value - exact) / exact, Is.Not.NaN.And.LessThan(1e-4));
        Assert.That(e.StandardError / e.Value, Is.Not.NaN.And.LessThan(1e-4));
        Assert.That((e.LeadingCount, e.ComplementDimension, e.Probes, e.Steps), Is.EqualTo((32, m - 32, 8, 4)));
    }

    [TestCase("flat"), TestCase("llm-like")]
    public void FlatSpectraAreEstimatedWithinTheirBound(string spectrum)
    {
        using var backend = new CpuBackend();
        const int m = 2048, n = 1024;
        var data = spectrum == "flat"
            ? SvdTestMatrices.WithSpectrumHouseholder(m, n, SvdTestMatrices.PowerLaw(n, 0.5), SvdTestMatrices.RunSeed)
            : SvdTestMatrices.LlmLike(m, n, 256, 1.0, 8e-4, SvdTestMatrices.RunSeed);
        using var w = backend.FromArray(data, m, n);
        var exact = TruncatedSvd.ExactSingularValues(backend, w).Sum(x => (double)x);
        var options = new KrylovOptions();
        using var svd = KrylovSvd.Compute(backend, w, 256, options, 4);
        var e = NuclearNorm.Estimate(backend, w, svd, options.Probes, options.LanczosSteps, 8);
        var error = (e.Value - exact) / exact;
        TestContext.Out.WriteLine($"{spectrum} {m}x{n}: relative error {error:E2}, bound {e.RelativeBound:E2} (SE {e.StandardError / e.Value:E2}, quadrature change {e.QuadratureChange / e.Value:E2})");
        Assert.That(Math.Abs(error), Is.Not.NaN.And.LessThan(0.01));
        Assert.That(e.RelativeBound, Is.Not.NaN.And.LessThan(0.01));
        var again = NuclearNorm.Estimate(backend, w, svd, options.Probes, options.LanczosSteps, 8);
        Assert.That(again, Is.EqualTo(e), "same seed, same bits");
    }

    [Test]
    public void TheComplementMustHoldTheLanczosBlocks()
    {
        using var backend = new CpuBackend();
        using var w = backend.FromArray(new Rand().Normal(100 * 120), 100, 120);
        using var svd = KrylovSvd.Compute(backend, w, 32, Small, 1);   // width 56: 44 dimensions left
        Assert.Throws<ArgumentException>(() => NuclearNorm.Estimate(backend, w, svd, 8, 9, 1));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => NuclearNorm.Estimate(backend, w, svd, 1, 4, 1))!.ParamName, Is.EqualTo("probes"));
        using var dense = KrylovSvd.Compute(backend, w, 90, Small, 1);
        Assert.Throws<ArgumentException>(() => NuclearNorm.Estimate(backend, w, dense, 8, 4, 1));
    }
}
