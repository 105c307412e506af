using System.Runtime.InteropServices;
using Sara.Native.Runtime.HostKernels;
using Sara.Tests.Support;

namespace Sara.Tests.Kernels;

/// <summary>
/// Parity of the CPU rank-k GEMM kernels (src/Sara.Native/Runtime/HostKernels) against a float64 oracle, on every
/// form they take, with odd sizes (row, column and shared-dimension tails), padded leading dimensions, alpha/beta,
/// and C poisoned with NaN where beta = 0.
/// </summary>
[NonParallelizable] // MaxThreads is process-wide
public unsafe class SkinnyGemmTests
{
    [SetUp]
    public void RequireAvx512()
    {
        if (!SkinnyGemm.IsSupported)
            Assert.Ignore("This CPU lacks AVX-512F, so the AVX-512 rank-k kernels are off here and untested on it (their parity " +
                          "runs only on AVX-512 machines); every GEMM goes to OpenBLAS, which HostBlasRoutingTests checks.");
    }

    // (what, transA, transB, m, n, k): C (m x n) = alpha op(A) op(B) + beta C with op(A) m x k.
    public static readonly (string What, bool TransA, bool TransB, int M, int N, int K)[] Forms =
    [
        ("expand", false, false, 300, 277, 19),       // Y += Z A^T shape family: inner k, column tail 5, row tail 0
        ("expand", false, false, 66, 192, 32),        // two full 96-column tiles, row tail 2
        ("expand, B transposed", false, true, 129, 130, 7),
        ("narrow", false, true, 203, 13, 517),        // H = X B^T: 13 columns padded to 16, row tail 11 (203 = 16 x 12 + 11)
        ("narrow, B as given", false, false, 67, 48, 1031), // dZ = G A: 48 = 32 + 16 columns, written in place
        ("narrow, short inner", false, true, 100, 20, 200), // both k and n are ranks; C is the narrow side
        ("reduce", true, false, 11, 333, 700),        // dB = dH^T X: token chunks 128 x 5 + 60, column tail 13
        ("reduce, transposed", true, false, 300, 5, 300), // dA = G^T Z
    ];

    private static IEnumerable<TestCaseData> Cases() =>
        from f in Forms
        from ab in new[] { (1f, 0f), (-0.75f, 0.5f) }
        select new TestCaseData(f.TransA, f.TransB, f.M, f.N, f.K, ab.Item1, ab.Item2)
            .SetArgDisplayNames(f.What, $"m{f.M}", $"n{f.N}", $"k{f.K}", $"alpha{ab.Item1}", $"beta{ab.Item2}");

    [TestCaseSource(nameof(Cases))]
    public void MatchesFloat64Oracle(bool transA, bool transB, int m, int n, int k, float alpha, float beta)
    {
        var rand = new Rand();
        // op(A) is m x k; stored k x m when transposed. Leading dimensions padded by 3 to prove they are honoured.
        int aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
        int lda = aCols + 3, ldb = bCols + 3, ldc = n + 3;
        var a = rand.Normal((long)aRows * lda);
        var b = rand.Normal((long)bRows * ldb);
        var c = beta == 0f ? Enumerable.Repeat(float.NaN, m * ldc).ToArray() : rand.Normal((long)m * ldc);
        var c0 = (float[])c.Clone();

        Assert.That(Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc), Is.True, "the kernels should take this shape");

        var want = new double[m * n];
        var abs = new double[m * n];
        for (var i = 0; i < m; i++)
        for (var j = 0; j < n; j++)
        {
            double s = 0, sa = 0;
            for (var p = 0; p < k; p++)
            {
                double x = transA ? a[p * lda + i] : a[i * lda + p];
                double y = transB ? b[j * ldb + p] : b[p * ldb + j];
                s += x * y;
                sa += Math.Abs(x * y);
            }
            want[i * n + j] = alpha * s + (beta == 0f ? 0 : beta * (double)c0[i * ldc + j]);
            abs[i * n + j] = Math.Abs(alpha) * sa + (beta == 0f ? 0 : Math.Abs(beta * (double)c0[i * ldc + j]));
        }
        var got = new float[m * n];
        for (var i = 0; i < m; i++) Array.Copy(c, i * ldc, got, i * n, n);
        Oracle.AssertClose(got, want, abs, 1e-5, "C");
        for (var i = 0; i < m; i++)
        for (var j = n; j < ldc; j++)
            Assert.That(c[i * ldc + j], Is.EqualTo(c0[i * ldc + j]), $"padding C[{i}, {j}] beyond the n columns was written");
    }

    [Test]
    public void StreamedExpandMatchesOracle()
    {
        // A write-only, aligned C over 4 MiB: the expand form writes it with non-temporal stores.
        const int m = 1040, n = 1024, k = 24;
        var rand = new Rand();
        var a = rand.Normal((long)m * k);
        var b = rand.Normal((long)k * n);
        var c = (float*)NativeMemory.AlignedAlloc((nuint)((long)m * n * sizeof(float)), 64);
        try
        {
            new Span<float>(c, m * n).Fill(float.NaN);
            Assert.That(SkinnyGemm.StreamsOutput((nint)c, n, (long)m * n, 0f), Is.True, "this case must take the streaming path");
            fixed (float* pa = a, pb = b)
                Assert.That(SkinnyGemm.TryRun(false, false, m, n, k, 0.5f, (nint)pa, k, (nint)pb, n, 0f, (nint)c, n), Is.True);
            var want = new double[(long)m * n];
            var abs = new double[(long)m * n];
            for (var i = 0; i < m; i++)
            for (var j = 0; j < n; j++)
            {
                double s = 0, sa = 0;
                for (var p = 0; p < k; p++)
                {
                    var x = (double)a[i * k + p] * b[p * n + j];
                    s += x;
                    sa += Math.Abs(x);
                }
                want[i * n + j] = 0.5 * s;
                abs[i * n + j] = 0.5 * sa;
            }
            Oracle.AssertClose(new Span<float>(c, m * n).ToArray(), want, abs, 1e-5, "streamed C");
        }
        finally { NativeMemory.AlignedFree(c); }
    }

    [Test]
    public void ResultsAreTheSameBitsForAnyThreadCount()
    {
        var rand = new Rand();
        var saved = SkinnyGemm.MaxThreads;
        try
        {
            foreach (var (_, ta, tb, m0, n0, k0) in Forms)
            {
                // Scaled up so every form splits (work above the serial threshold).
                int m = ta && m0 < 32 ? m0 : m0 * 4, n = n0, k = k0 * 2;
                int aRows = ta ? k : m, aCols = ta ? m : k, bRows = tb ? n : k, bCols = tb ? k : n;
                var a = rand.Normal((long)aRows * aCols);
                var b = rand.Normal((long)bRows * bCols);
                float[]? first = null;
                foreach (var threads in new[] { 1, 2, 3, 5 })
                {
                    SkinnyGemm.MaxThreads = threads;
                    var c = new float[m * n];
                    Assert.That(Run(ta, tb, m, n, k, 1f, a, aCols, b, bCols, 0f, c, n), Is.True);
                    if (first is null) first = c;
                    else Assert.That(c, Is.EqualTo(first), $"{m}x{n}x{k} (transA {ta}, transB {tb}) differs with {threads} threads");
                }
            }
        }
        finally { SkinnyGemm.MaxThreads = saved; }
    }

    [TestCase(false, false, 300, 300, 300, TestName = "Declines a square GEMM (every dimension above MaxRank)")]
    [TestCase(true, true, 8, 8, 8, TestName = "Declines both operands transposed")]
    [TestCase(true, false, 300, 300, 8, TestName = "Declines a transposed A with a short inner dimension")]
    [TestCase(false, false, 64, 4096, 128, TestName = "Declines a rank-k update whose k x n panel exceeds L2")]
    public void DeclinesShapesOutsideItsForms(bool transA, bool transB, int m, int n, int k)
    {
        var rand = new Rand();
        var a = rand.Normal((long)m * k);
        var b = rand.Normal((long)k * n);
        var c = rand.Normal((long)m * n);
        var c0 = (float[])c.Clone();
        Assert.That(Run(transA, transB, m, n, k, 1f, a, transA ? m : k, b, transB ? k : n, 0f, c, n), Is.False);
        Assert.That(c, Is.EqualTo(c0), "a declined call must leave C alone");
    }

    [Test]
    public void MaxThreadsRejectsZero() =>
        Assert.That(() => SkinnyGemm.MaxThreads = 0, Throws.TypeOf<ArgumentOutOfRangeException>());

    private static bool Run(bool ta, bool tb, int m, int n, int k, float alpha, float[] a, int lda, float[] b, int ldb,
        float beta, float[] c, int ldc)
    {
        fixed (float* pa = a, pb = b, pc = c)
            return SkinnyGemm.TryRun(ta, tb, m, n, k, alpha, (nint)pa, lda, (nint)pb, ldb, beta, (nint)pc, ldc);
    }
}
