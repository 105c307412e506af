using System.Diagnostics;
using Sara.Native.Backends;
using Sara.Native.Svd;
using Sara.Tests.Support;

namespace Sara.Tests.Svd;

/// <summary>
/// Randomized truncated SVD on matrices with power-law spectra s_i = i^-a and random orthogonal factors (known SVD):
/// the leading k singular values within 1e-3 relative error, and the left subspace error stated and bounded.
/// </summary>
public class TruncatedSvdAccuracyTests
{
    private const int M = 768, N = 1024;

    public static IEnumerable<TestCaseData> Cases() =>
        from d in TestDevices.All
        from a in new[] { 0.5, 0.7, 1.0 }
        select new TestCaseData(d, a).SetArgDisplayNames(d, $"a{a}");

    // The gap s_k / s_(k+1) = ((k+1)/k)^a is tiny for a = 0.5 (k = 64: 0.8%), so the exact top-k subspace is barely
    // determined there; the bound loosens as the spectrum flattens. Measured values are printed by the test.
    private static double SubspaceBound(double a) => a >= 1 ? 0.005 : a >= 0.7 ? 0.02 : 0.1;

    [TestCaseSource(nameof(Cases))]
    public void LeadingValuesAndSubspaceMatchTheKnownSvd(string device, double a)
    {
        using var backend = TestDevices.Create(device);
        var s = SvdTestMatrices.PowerLaw(Math.Min(M, N), a);
        var (w, uTrue, _) = SvdTestMatrices.WithSpectrum(M, N, s, SvdTestMatrices.RunSeed);
        using var wt = backend.FromArray(w, M, N);
        foreach (var k in new[] { 8, 32, 64 })
        {
            var options = new SvdOptions(k, Oversampling: k, PowerIterations: 6, Seed: k);
            var clock = Stopwatch.StartNew();
            using var svd = TruncatedSvd.Compute(backend, wt, options);
            var seconds = clock.Elapsed.TotalSeconds;
            double worst = 0;
            for (var i = 0; i < k; i++) worst = Math.Max(worst, Math.Abs(svd.S[i] - s[i]) / s[i]);
            var (fro, spectral) = SubspaceError.Of(Oracle.D(svd.U.ToArray()), uTrue, M, k, Math.Min(M, N));
            TestContext.Out.WriteLine($"{device} a={a} k={k} (l={svd.SketchWidth}): max rel err of s_1..s_k {worst:E2}, " +
                $"subspace ||UU^T-QQ^T||_2 {spectral:E2} (F {fro:E2}), {seconds * 1000:F0} ms");
            Assert.That(worst, Is.Not.NaN.And.LessThan(1e-3), $"k={k}: singular values");
            Assert.That(spectral, Is.Not.NaN.And.LessThan(SubspaceBound(a)), $"k={k}: subspace error");
        }
    }
}
