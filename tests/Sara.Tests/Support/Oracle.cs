namespace Sara.Tests.Support;

/// <summary>Plain float64 reference math on row-major arrays: the oracle every kernel is compared against.</summary>
public static class Oracle
{
    public static double[] D(float[] a) => Array.ConvertAll(a, x => (double)x);

    /// <summary>C[m,n] = op(A) op(B); A is stored ar x ac, B br x bc.</summary>
    public static double[] MatMul(double[] a, int ar, int ac, bool ta, double[] b, int br, int bc, bool tb)
    {
        var (m, k) = ta ? (ac, ar) : (ar, ac);
        var n = tb ? br : bc;
        var c = new double[(long)m * n];
        for (var i = 0; i < m; i++)
            for (var p = 0; p < k; p++)
            {
                var av = ta ? a[(long)p * ac + i] : a[(long)i * ac + p];
                if (av == 0) continue;
                for (var j = 0; j < n; j++) c[(long)i * n + j] += av * (tb ? b[(long)j * bc + p] : b[(long)p * bc + j]);
            }
        return c;
    }

    public static double[] ScaleColumns(double[] x, int rows, int cols, double[] v)
    {
        var y = new double[x.Length];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < cols; c++) y[(long)r * cols + c] = x[(long)r * cols + c] * v[c];
        return y;
    }

    public static double[] ColumnSum(double[] x, int rows, int cols)
    {
        var s = new double[cols];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < cols; c++) s[c] += x[(long)r * cols + c];
        return s;
    }

    public static double[] Add(double[] a, double[] b, double sb = 1)
    {
        var c = new double[a.Length];
        for (var i = 0; i < a.Length; i++) c[i] = a[i] + sb * b[i];
        return c;
    }

    public static double[] Mul(double[] a, double[] b)
    {
        var c = new double[a.Length];
        for (var i = 0; i < a.Length; i++) c[i] = a[i] * b[i];
        return c;
    }

    public static double[] AddRowVector(double[] y, int rows, int cols, double[] b)
    {
        var o = (double[])y.Clone();
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < cols; c++) o[(long)r * cols + c] += b[c];
        return o;
    }

    /// <summary>||got - want|| / ||want|| (want all zero: ||got||).</summary>
    public static double RelErr(float[] got, double[] want)
    {
        if (got.Length != want.Length) throw new ArgumentException($"Length {got.Length}; the reference has {want.Length}.", nameof(got));
        double num = 0, den = 0;
        for (var i = 0; i < got.Length; i++)
        {
            var d = got[i] - want[i];
            num += d * d;
            den += want[i] * want[i];
        }
        if (double.IsNaN(num)) return double.NaN;
        return den == 0 ? Math.Sqrt(num) : Math.Sqrt(num / den);
    }

    /// <summary>
    /// Relative norm error whose reference norm is floored at a tenth of <paramref name="absWant"/>'s: the same float64
    /// computation on absolute values (|X| |B|^T for X B^T, sums of |terms| for a reduction). Where the exact result does
    /// not cancel this is exactly ||got - want|| / ||want||; where random signs make it cancel (a one-element output
    /// that is a long sum, say) float32 rounding is judged against the size of the terms, not of their tiny sum.
    /// </summary>
    public static double RelErr(float[] got, double[] want, double[] absWant)
    {
        if (got.Length != want.Length || absWant.Length != want.Length)
            throw new ArgumentException($"Lengths {got.Length}, {want.Length}, {absWant.Length} differ.", nameof(got));
        double num = 0, den = 0, abs = 0;
        for (var i = 0; i < got.Length; i++)
        {
            var d = got[i] - want[i];
            num += d * d;
            den += want[i] * want[i];
            abs += absWant[i] * absWant[i];
        }
        if (double.IsNaN(num)) return double.NaN;
        var floor = Math.Max(Math.Sqrt(den), 0.1 * Math.Sqrt(abs));
        return floor == 0 ? Math.Sqrt(num) : Math.Sqrt(num) / floor;
    }

    /// <summary>Elementwise absolute values (to build the absolute-value twin of a computation).</summary>
    public static double[] Abs(double[] a) => Array.ConvertAll(a, Math.Abs);

    public static double[] Abs(float[] a) => Array.ConvertAll(a, v => (double)Math.Abs(v));

#if !SARA_DEVICE_CHECK   // bench/Sara.DeviceCheck compiles this file without NUnit
    // Every "less than" in these tests is written Is.Not.NaN.And.LessThan: NUnit's Is.LessThan passes NaN (it compares
    // with double.CompareTo, where NaN sorts below every number), so a NaN error would otherwise pass as accurate.
    public static void AssertClose(float[] got, double[] want, double tol, string what)
    {
        var e = RelErr(got, want);
        Assert.That(e, Is.Not.NaN.And.LessThan(tol), $"{what}: relative error {e:E3} (tolerance {tol:E1})");
    }

    /// <summary>Like <see cref="AssertClose(float[], double[], double, string)"/> with the cancellation-aware floor (<see cref="RelErr(float[], double[], double[])"/>).</summary>
    public static void AssertClose(float[] got, double[] want, double[] absWant, double tol, string what)
    {
        var e = RelErr(got, want, absWant);
        Assert.That(e, Is.Not.NaN.And.LessThan(tol), $"{what}: relative error {e:E3} (tolerance {tol:E1}; reference norm floored at 0.1 x |terms|)");
    }
#endif
}
