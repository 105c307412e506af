using Sara.Bindings;
using Sara.Native.Backends;
using Sara.Native.Runtime;
using Sara.Tests.Support;

namespace Sara.Tests.Svd;

/// <summary>
/// The SVD's non-GEMM pieces (kernels/svd.cu on "emu", C#/LAPACKE on "cpu") against float64 oracles of the tests' own
/// (Jacobi, Cholesky, known spectra) and, on the kernel runtime, against the vendor solver (LAPACK on the emulator,
/// cuSOLVER on a GPU).
/// </summary>
public class SvdKernelTests
{
    // The kernel runtime's small SVD is float64 (Gram + Dsyevd, see SmallSvdAccuracyTests); LAPACK's sgesdd on the CPU
    // and the vendor's gesvd are float32: their errors, 2e-6 to 1e-5 for l up to 128, set the tolerance.
    private const double SmallSvdTolerance = 3e-5;

    public static IEnumerable<TestCaseData> SmallSvdCases() =>
        from d in TestDevices.All
        from s in new[] { (1, 1, 1), (1, 37, 1), (2, 2, 2), (5, 9, 3), (17, 40, 17), (33, 33, 8), (74, 300, 64), (128, 129, 100) }
        select new TestCaseData(d, s.Item1, s.Item2, s.Item3).SetArgDisplayNames(d, $"l{s.Item1}", $"n{s.Item2}", $"c{s.Item3}");

    [TestCaseSource(nameof(SmallSvdCases))]
    public void SmallSvdMatchesFloat64AndVendor(string device, int l, int n, int c)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        // Spread singular values over 3 decades so that the ordering and the small values are exercised.
        var spectrum = Enumerable.Range(0, l).Select(i => Math.Pow(10, -3.0 * i / Math.Max(1, l - 1)) * (1 + 0.1 * r.Gauss())).ToArray();
        var bData = Random(l, n, spectrum, r);
        using var b = backend.FromArray(bData, l, n);
        using var s = backend.Empty(l);
        using var u = backend.Empty(l, c);
        using var vt = backend.Empty(c, n);
        foreach (var t in new[] { s, u, vt }) backend.Fill(t, float.NaN);

        backend.SmallSvd(b, s, u, vt);

        Assert.That(b.ToArray(), Is.EqualTo(bData), "b must not be modified");
        // Two references that share nothing with the code under test (LAPACK on cpu, the float64 Gram and Dsyevd on the kernel runtime): the
        // tests' own float64 Jacobi of the stored b, and the spectrum b was built with (float32 storage moves it ~1e-7).
        var sRef = SubspaceError.SingularValues(Oracle.D(bData), l, n);
        var sGot = s.ToArray();
        Oracle.AssertClose(sGot, sRef, SmallSvdTolerance, "s vs float64 Jacobi");
        Oracle.AssertClose(sGot, spectrum.OrderByDescending(x => x).ToArray(), SmallSvdTolerance, "s vs the spectrum b was built with");
        for (var i = 1; i < l; i++) Assert.That(sGot[i], Is.Not.NaN.And.LessThanOrEqualTo(sGot[i - 1]), $"s descending at {i}");
        // Reconstruction with the leading c triplets equals the float64 rank-c truncation of b.
        double[] uD = Oracle.D(u.ToArray()), vtD = Oracle.D(vt.ToArray());
        var us = Oracle.ScaleColumns(uD, l, c, Oracle.D(sGot[..c]));
        var recon = Oracle.MatMul(us, l, c, false, vtD, c, n, false);
        var err = FrobeniusDiff(recon, Oracle.D(bData));
        var tail = Math.Sqrt(sRef.Skip(c).Sum(x => x * x));
        var scale = Math.Sqrt(sRef.Sum(x => x * x));
        Assert.That(err, Is.Not.NaN.And.LessThan(tail + 1e-5 * scale), $"||b - U S Vt||_F = {err:E3}, optimal {tail:E3}");
        AssertOrthonormalColumns(uD, l, c, "u");
        AssertOrthonormalColumns(Transpose(vtD, c, n), n, c, "vt^T");

        if (backend is CudaBackend cuda)
        {
            var vendor = VendorSingularValues(cuda.Runtime, bData, l, n);
            Oracle.AssertClose(sGot, Oracle.D(vendor), SmallSvdTolerance, "s vs vendor gesvd");
        }
    }

    public static IEnumerable<TestCaseData> CholeskyCases() =>
        from d in TestDevices.All
        from n in new[] { 1, 2, 7, 33, 74, 128, 300 }
        select new TestCaseData(d, n).SetArgDisplayNames(d, $"n{n}");

    [TestCaseSource(nameof(CholeskyCases))]
    public void CholeskyAndInverseMatchFloat64AndVendor(string device, int n)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        // A = X^T X for a tall Gaussian X: symmetric positive definite, condition number ~ 10.
        var x = Oracle.D(r.Normal(3L * n * n));
        var a = Oracle.MatMul(x, 3 * n, n, true, x, 3 * n, n, false);
        var aF = Array.ConvertAll(a, v => (float)v);
        for (var i = 0; i < n; i++)   // poison the upper triangle: only the lower one may be read
            for (var j = i + 1; j < n; j++) aF[i * n + j] = float.NaN;
        using var at = backend.FromArray(aF, n, n);
        using var l = backend.Empty(n, n);
        using var inv = backend.Empty(n, n);
        backend.Fill(l, float.NaN);
        backend.Fill(inv, float.NaN);

        backend.Cholesky(at, l);
        backend.TriangularInverse(l, inv);

        var lRef = Float64Cholesky(Array.ConvertAll(aF, v => (double)v), n);
        var lGot = l.ToArray();
        Oracle.AssertClose(lGot, lRef, 1e-5, "L vs float64");
        var invRef = Float64LowerInverse(Oracle.D(lGot), n);
        Oracle.AssertClose(inv.ToArray(), invRef, 1e-5, "L^-1 vs float64");
        if (backend is CudaBackend cuda)
        {
            var sym = (float[])aF.Clone();
            for (var i = 0; i < n; i++)
                for (var j = i + 1; j < n; j++) sym[i * n + j] = sym[j * n + i];
            using var vendor = backend.FromArray(sym, n, n);
            cuda.Runtime.Potrf(n, vendor.Ptr);
            Oracle.AssertClose(lGot, Oracle.D(vendor.ToArray()), 1e-5, "L vs vendor potrf");
        }
    }

    [TestCase("cpu"), TestCase("emu")]
    public void CholeskyShiftAndGuardKeepSingularMatricesFinite(string device)
    {
        using var backend = TestDevices.Create(device);
        const int n = 40;
        var r = new Rand();
        // Rank 10: the plain factorisation breaks down; the guarded one must stay finite.
        var x = Oracle.D(r.Normal(10L * n));
        var a = Array.ConvertAll(Oracle.MatMul(x, 10, n, true, x, 10, n, false), v => (float)v);
        using var at = backend.FromArray(a, n, n);
        using var l = backend.Empty(n, n);
        foreach (var shift in new[] { 0f, 1e-4f })
        {
            backend.Fill(l, float.NaN);
            backend.Cholesky(at, l, shift);
            Assert.That(l.ToArray().All(float.IsFinite), Is.True, $"shift {shift}: L must be finite");
        }
        // With the shift, L L^T = A + shift * max diag * I to float32 accuracy.
        var lD = Oracle.D(l.ToArray());
        var llt = Oracle.MatMul(lD, n, n, false, lD, n, n, true);
        var want = Oracle.D(a);
        var maxDiag = Enumerable.Range(0, n).Max(i => want[i * n + i]);
        for (var i = 0; i < n; i++) want[i * n + i] += 1e-4 * maxDiag;
        Oracle.AssertClose(Array.ConvertAll(llt, v => (float)v), want, 1e-5, "L L^T vs A + shift I");
    }

    [TestCase("cpu"), TestCase("emu")]
    public void SumOfSquaresIsExactAndCountsNonFinite(string device)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        var data = r.Normal(300_001);
        using var t = backend.FromArray(data, 300_001);
        var got = backend.SumOfSquares(t);
        var want = data.Sum(v => (double)v * v);
        Assert.That(Math.Abs(got.SumOfSquares - want) / want, Is.Not.NaN.And.LessThan(1e-12));
        Assert.That(got.NonFinite, Is.Zero);
        Assert.That(backend.SumOfSquares(t), Is.EqualTo(got), "deterministic");

        data[5] = float.NaN;
        data[77_777] = float.PositiveInfinity;
        data[300_000] = float.NegativeInfinity;
        backend.Upload(t, data);
        var bad = backend.SumOfSquares(t);
        Assert.That(bad.NonFinite, Is.EqualTo(3));
        var finite = data.Where(float.IsFinite).Sum(v => (double)v * v);
        Assert.That(Math.Abs(bad.SumOfSquares - finite) / finite, Is.Not.NaN.And.LessThan(1e-12));
    }

    [TestCase("cpu"), TestCase("emu")]
    public void BadShapesNameTheArgument(string device)
    {
        using var backend = TestDevices.Create(device);
        using var wide = backend.Zeros(3, 5);
        using var tall = backend.Zeros(5, 3);
        using var s3 = backend.Zeros(3);
        using var u33 = backend.Zeros(3, 3);
        using var u34 = backend.Zeros(3, 4);
        using var vt35 = backend.Zeros(3, 5);
        using var vt25 = backend.Zeros(2, 5);
        Assert.That(Assert.Throws<ArgumentException>(() => backend.SmallSvd(tall, s3, u33, vt35))!.ParamName, Is.EqualTo("b"));
        Assert.That(Assert.Throws<ArgumentException>(() => backend.SmallSvd(wide, s3, u34, vt35))!.ParamName, Is.EqualTo("u"));
        var e = Assert.Throws<ArgumentException>(() => backend.SmallSvd(wide, s3, u33, vt25))!;
        Assert.That(e.ParamName, Is.EqualTo("vt"));
        Assert.That(e.Message, Does.Contain("[3, 5]"));
        Assert.That(Assert.Throws<ArgumentException>(() => backend.Cholesky(wide, wide))!.ParamName, Is.EqualTo("a"));
        Assert.That(Assert.Throws<ArgumentException>(() => backend.Cholesky(u33, u33))!.ParamName, Is.EqualTo("l"));
        using var l33 = backend.Zeros(3, 3);
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => backend.Cholesky(u33, l33, -1f))!.ParamName,
            Is.EqualTo("relativeShift"));
        Assert.That(Assert.Throws<ArgumentException>(() => backend.TriangularInverse(u33, vt35))!.ParamName, Is.EqualTo("inverse"));
    }

    internal static float[] Random(int rows, int cols, double[] spectrum, Rand r)
    {
        var seed = r.Int(0, int.MaxValue);
        var k = Math.Min(rows, cols);
        var u = SvdTestMatrices.OrthonormalColumns(rows, k, seed);
        var v = SvdTestMatrices.OrthonormalColumns(cols, k, seed + 1);
        var us = Oracle.ScaleColumns(u, rows, k, spectrum);
        return Array.ConvertAll(Oracle.MatMul(us, rows, k, false, v, cols, k, true), x => (float)x);
    }

    private static float[] VendorSingularValues(IKernelRuntime runtime, float[] data, int m, int n)
    {
        var bytes = (long)data.Length * sizeof(float);
        var r = Math.Min(m, n);
        // Both factors are requested, so the vendor runs the same job as the library's own vector path.
        nint a = runtime.AllocRaw(bytes), s = runtime.AllocRaw(r * sizeof(float)),
            u = runtime.AllocRaw((long)m * r * sizeof(float)), vt = runtime.AllocRaw((long)r * n * sizeof(float));
        try
        {
            runtime.CopyToDevice(a, System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
            runtime.Gesvd(m, n, a, s, u, vt);
            var result = new float[r];
            runtime.CopyToHost(System.Runtime.InteropServices.MemoryMarshal.AsBytes(result.AsSpan()), s);
            return result;
        }
        finally
        {
            foreach (var p in new[] { a, s, u, vt }) runtime.FreeRaw(p);
        }
    }

    private static double FrobeniusDiff(double[] a, double[] b) => Math.Sqrt(a.Zip(b, (x, y) => (x - y) * (x - y)).Sum());

    private static double[] Transpose(double[] a, int rows, int cols)
    {
        var t = new double[a.Length];
        for (var i = 0; i < rows; i++)
            for (var j = 0; j < cols; j++) t[(long)j * rows + i] = a[(long)i * cols + j];
        return t;
    }

    private static void AssertOrthonormalColumns(double[] a, int rows, int cols, string what)
    {
        var g = Oracle.MatMul(a, rows, cols, true, a, rows, cols, false);
        double worst = 0;
        for (var i = 0; i < cols; i++)
            for (var j = 0; j < cols; j++) worst = Math.Max(worst, Math.Abs(g[i * cols + j] - (i == j ? 1 : 0)));
        Assert.That(worst, Is.Not.NaN.And.LessThan(1e-4), $"{what}: max |G - I| = {worst:E3}");
    }

    private static double[] Float64Cholesky(double[] a, int n)
    {
        var l = new double[n * n];
        for (var j = 0; j < n; j++)
        {
            var d = a[j * n + j];
            for (var p = 0; p < j; p++) d -= l[j * n + p] * l[j * n + p];
            l[j * n + j] = Math.Sqrt(d);
            for (var i = j + 1; i < n; i++)
            {
                var v = a[i * n + j];
                for (var p = 0; p < j; p++) v -= l[i * n + p] * l[j * n + p];
                l[i * n + j] = v / l[j * n + j];
            }
        }
        return l;
    }

    private static double[] Float64LowerInverse(double[] l, int n)
    {
        var x = new double[n * n];
        for (var c = 0; c < n; c++)
        {
            x[c * n + c] = 1 / l[c * n + c];
            for (var i = c + 1; i < n; i++)
            {
                double dot = 0;
                for (var p = c; p < i; p++) dot += l[i * n + p] * x[p * n + c];
                x[i * n + c] = -dot / l[i * n + i];
            }
        }
        return x;
    }
}
