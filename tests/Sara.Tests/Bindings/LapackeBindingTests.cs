using Sara.Bindings;
using Sara.Tests.Support;

namespace Sara.Tests.Bindings;

/// <summary>
/// LAPACKE bindings against float64: single-precision results vs the double routines on the same random input,
/// and vs reconstruction of the input. Outputs are NaN-poisoned first, so a call that writes nothing fails.
/// </summary>
[TestFixture]
public unsafe class LapackeBindingTests
{
    [TestCase(37, 23)]
    [TestCase(23, 37)]
    [TestCase(16, 16)]
    public void Sgesdd_matches_dgesdd_and_reconstructs_the_matrix(int m, int n)
    {
        var r = Math.Min(m, n);
        var a = new Rand().Normal((long)m * n);
        var ad = Oracle.D(a);

        float[] s = Poisoned(r), u = Poisoned((long)m * r), vt = Poisoned((long)r * n), work = (float[])a.Clone();
        fixed (float* pa = work, ps = s, pu = u, pvt = vt)
            Lapacke.Check(Lapacke.Sgesdd(Lapacke.RowMajor, (byte)'S', m, n, (nint)pa, n, (nint)ps, (nint)pu, r, (nint)pvt, n), "LAPACKE_sgesdd");

        double[] sd = new double[r], ud = new double[(long)m * r], vtd = new double[(long)r * n], workd = (double[])ad.Clone();
        fixed (double* pa = workd, ps = sd, pu = ud, pvt = vtd)
            Lapacke.Check(Lapacke.Dgesdd(Lapacke.RowMajor, (byte)'S', m, n, (nint)pa, n, (nint)ps, (nint)pu, r, (nint)pvt, n), "LAPACKE_dgesdd");

        Oracle.AssertClose(s, sd, 1e-5, "singular values vs dgesdd");
        Assert.That(s, Is.Ordered.Descending);
        var usv = Oracle.MatMul(Oracle.ScaleColumns(Oracle.D(u), m, r, Oracle.D(s)), m, r, false, Oracle.D(vt), r, n, false);
        Oracle.AssertClose(Array.ConvertAll(usv, x => (float)x), ad, 1e-5, "U diag(s) V^T vs A");
    }

    [Test]
    public void Sgesvd_singular_values_match_dgesdd()
    {
        const int m = 29, n = 41, r = 29;
        var a = new Rand().Normal((long)m * n);
        float[] s = Poisoned(r), superb = Poisoned(r - 1), work = (float[])a.Clone();
        fixed (float* pa = work, ps = s, pb = superb)
            Lapacke.Check(Lapacke.Sgesvd(Lapacke.RowMajor, (byte)'N', (byte)'N', m, n, (nint)pa, n, (nint)ps, 0, 1, 0, 1, (nint)pb), "LAPACKE_sgesvd");
        var sd = new double[r];
        var workd = Oracle.D(a);
        fixed (double* pa = workd, ps = sd)
        {
            // LAPACKE quirk: row-major gesdd checks ldvt >= n even when jobz = 'N' and vt is never touched.
            Assert.That(Lapacke.Dgesdd(Lapacke.RowMajor, (byte)'N', m, n, (nint)pa, n, (nint)ps, 0, 1, 0, 1), Is.EqualTo(-11));
            Lapacke.Check(Lapacke.Dgesdd(Lapacke.RowMajor, (byte)'N', m, n, (nint)pa, n, (nint)ps, 0, 1, 0, n), "LAPACKE_dgesdd");
        }
        Oracle.AssertClose(s, sd, 1e-5, "sgesvd singular values");
    }

    [Test]
    public void Spotrf_and_ssyevd_match_their_double_twins()
    {
        const int n = 24;
        var g = Oracle.D(new Rand().Normal(n * n));
        var spd = Oracle.MatMul(g, n, n, false, g, n, n, true);        // G G^T + n I: well conditioned
        for (var i = 0; i < n; i++) spd[i * n + i] += n;
        var spdF = Array.ConvertAll(spd, x => (float)x);

        float[] l = (float[])spdF.Clone();
        double[] ld = Oracle.D(spdF);
        fixed (float* p = l) Lapacke.Check(Lapacke.Spotrf(Lapacke.RowMajor, (byte)'L', n, (nint)p, n), "LAPACKE_spotrf");
        fixed (double* p = ld) Lapacke.Check(Lapacke.Dpotrf(Lapacke.RowMajor, (byte)'L', n, (nint)p, n), "LAPACKE_dpotrf");
        var lower = LowerOnly(l, n);
        var lowerD = Oracle.D(LowerOnly(Array.ConvertAll(ld, x => (float)x), n));
        Oracle.AssertClose(lower, lowerD, 1e-5, "spotrf vs dpotrf");
        var llt = Oracle.MatMul(Oracle.D(lower), n, n, false, Oracle.D(lower), n, n, true);
        Oracle.AssertClose(Array.ConvertAll(llt, x => (float)x), spd, 1e-5, "L L^T vs A");

        float[] w = Poisoned(n), v = (float[])spdF.Clone();
        double[] wd = new double[n], vd = Oracle.D(spdF);
        fixed (float* pv = v, pw = w) Lapacke.Check(Lapacke.Ssyevd(Lapacke.RowMajor, (byte)'V', (byte)'L', n, (nint)pv, n, (nint)pw), "LAPACKE_ssyevd");
        fixed (double* pv = vd, pw = wd) Lapacke.Check(Lapacke.Dsyevd(Lapacke.RowMajor, (byte)'V', (byte)'L', n, (nint)pv, n, (nint)pw), "LAPACKE_dsyevd");
        Oracle.AssertClose(w, wd, 1e-5, "ssyevd eigenvalues vs dsyevd");
        Assert.That(w, Is.Ordered.Ascending);
        // Columns of v are eigenvectors: A v_i = w_i v_i.
        var av = Oracle.MatMul(Oracle.D(spdF), n, n, false, Oracle.D(v), n, n, false);
        Oracle.AssertClose(Array.ConvertAll(av, x => (float)x), Oracle.ScaleColumns(Oracle.D(v), n, n, Oracle.D(w)), 1e-5, "A V = V diag(w)");
    }

    [Test]
    public void A_failed_factorisation_throws_naming_the_call_and_the_info()
    {
        const int n = 6;
        var a = new Rand().Normal(n * n);
        for (var i = 0; i < n; i++) a[i * n + i] = -Math.Abs(a[i * n + i]) - 1f;   // negative diagonal: not positive definite
        var e = Assert.Throws<NativeCallException>(() =>
        {
            fixed (float* p = a) Lapacke.Check(Lapacke.Spotrf(Lapacke.RowMajor, (byte)'L', n, (nint)p, n), "LAPACKE_spotrf");
        });
        Assert.That(e!.Message, Does.StartWith("LAPACKE_spotrf failed: NOT_POSITIVE_DEFINITE"));
        Assert.That(e.Code, Is.EqualTo(1), "the first leading minor is already negative");

        var bad = Assert.Throws<NativeCallException>(() =>
        {
            fixed (float* p = a) Lapacke.Check(Lapacke.Spotrf(Lapacke.RowMajor, (byte)'L', n, (nint)p, n - 1), "LAPACKE_spotrf");
        });
        Assert.That(bad!.StatusName, Is.EqualTo("ILLEGAL_ARGUMENT_5"), "lda < n");
    }

    private static float[] Poisoned(long count)
    {
        var a = new float[count];
        Array.Fill(a, float.NaN);
        return a;
    }

    private static float[] LowerOnly(float[] a, int n)
    {
        var o = (float[])a.Clone();
        for (var i = 0; i < n; i++)
            for (var j = i + 1; j < n; j++) o[i * n + j] = 0f;
        return o;
    }
}
