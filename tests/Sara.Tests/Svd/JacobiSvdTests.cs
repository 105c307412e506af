using Sara.Tests.Support;

namespace Sara.Tests.Svd;

/// <summary>
/// The tests' own float64 SVD (Support/JacobiSvd), the oracle of the exact and small SVD tests, judged without any
/// other SVD: hand-computed values, matrices built with a known spectrum from orthonormal factors (Gram–Schmidt), and
/// the identities U^T U = I, V^T V = I, A = U S V^T.
/// </summary>
public class JacobiSvdTests
{
    [Test]
    public void HandComputedValues()
    {
        // [[3, 0], [4, 5]]: A^T A = [[25, 20], [20, 25]], eigenvalues 45 and 5.
        var s = JacobiSvd.Values([3, 0, 4, 5], 2, 2);
        Assert.That(s[0], Is.EqualTo(Math.Sqrt(45)).Within(1e-14));
        Assert.That(s[1], Is.EqualTo(Math.Sqrt(5)).Within(1e-14));
        Assert.That(JacobiSvd.Values([3, 4], 1, 2), Is.EqualTo(new[] { 5.0 }).Within(1e-15));
        Assert.That(JacobiSvd.Values([3, 4], 2, 1), Is.EqualTo(new[] { 5.0 }).Within(1e-15));
        Assert.That(JacobiSvd.Values([0, 0, 0, 0, 0, 0], 2, 3), Is.EqualTo(new[] { 0.0, 0.0 }));
    }

    public static IEnumerable<TestCaseData> Cases() =>
        from shape in new[] { (1, 1), (1, 9), (9, 1), (40, 25), (25, 40), (64, 64), (300, 120) }
        from spectrum in new[] { "decades", "repeated", "rank-deficient" }
        select new TestCaseData(shape.Item1, shape.Item2, spectrum).SetArgDisplayNames($"{shape.Item1}x{shape.Item2}", spectrum);

    [TestCaseSource(nameof(Cases))]
    public void RecoversAKnownSpectrumAndItsFactors(int m, int n, string kind)
    {
        var r = Math.Min(m, n);
        var seed = new Rand().Int(0, int.MaxValue / 2);
        var s = kind switch
        {
            "decades" => Enumerable.Range(0, r).Select(i => Math.Pow(10, -6.0 * i / Math.Max(1, r - 1))).ToArray(),
            "repeated" => Enumerable.Range(0, r).Select(i => i < r / 2 ? 2.0 : 0.5).ToArray(),
            _ => Enumerable.Range(0, r).Select(i => i < (r + 1) / 2 ? 1.0 / (i + 1) : 0.0).ToArray(),
        };
        var u0 = SvdTestMatrices.OrthonormalColumns(m, r, seed);
        var v0 = SvdTestMatrices.OrthonormalColumns(n, r, seed + 1);
        var a = Oracle.MatMul(Oracle.ScaleColumns(u0, m, r, s), m, r, false, v0, n, r, true);

        var (u, got, v) = JacobiSvd.Compute(a, m, n);
        var sorted = s.OrderByDescending(x => x).ToArray();
        for (var i = 0; i < r; i++)
            Assert.That(Math.Abs(got[i] - sorted[i]), Is.Not.NaN.And.LessThan(1e-13 * sorted[0]), $"s[{i}] = {got[i]:R}, built with {sorted[i]:R}");
        var back = Oracle.MatMul(Oracle.ScaleColumns(u, m, r, got), m, r, false, v, n, r, true);
        var err = Math.Sqrt(back.Select((x, i) => (x - a[i]) * (x - a[i])).Sum() / a.Sum(x => x * x));
        Assert.That(err, Is.Not.NaN.And.LessThan(1e-13), "||A - U S V^T|| / ||A||");
        // Orthonormal factors (for the columns with a nonzero singular value; the others are zero by construction).
        var nonzero = got.Count(x => x > 1e-12);
        Assert.That(MaxOffIdentity(u, m, r, nonzero), Is.Not.NaN.And.LessThan(1e-12), "U^T U = I");
        Assert.That(MaxOffIdentity(v, n, r, m >= n ? r : nonzero), Is.Not.NaN.And.LessThan(1e-12), "V^T V = I");
    }

    private static double MaxOffIdentity(double[] q, int rows, int cols, int used)
    {
        var g = Oracle.MatMul(q, rows, cols, true, q, rows, cols, false);
        double worst = 0;
        for (var i = 0; i < used; i++)
            for (var j = 0; j < used; j++) worst = Math.Max(worst, Math.Abs(g[i * cols + j] - (i == j ? 1 : 0)));
        return worst;
    }
}
