using Sara.Bindings;
using Sara.Native.Runtime;
using Sara.Tests.Support;

namespace Sara.Tests.Bindings;

/// <summary>
/// GpuRuntime on a real device: memory round trips, row-major GEMM and the dense solvers against float64,
/// and every embedded kernel resolvable. Skips only where there is no NVIDIA device; any other start failure fails
/// every test of the fixture with the reason (<see cref="TestDevices.SkipOrFail"/>).
/// </summary>
[TestFixture]
[NonParallelizable]
public unsafe class GpuRuntimeTests
{
    private GpuRuntime? _gpu;
    private GpuStartFailure? _failure;

    [OneTimeSetUp]
    public void Open()
    {
        if (!GpuRuntime.TryStart(0, out _gpu, out _failure)) TestContext.Out.WriteLine($"GPU runtime unavailable: {_failure}");
        else TestContext.Out.WriteLine(_gpu.Description);
    }

    [OneTimeTearDown]
    public void Close() => _gpu?.Dispose();

    private GpuRuntime Gpu
    {
        get
        {
            if (_gpu == null) TestDevices.SkipOrFail(_failure!);
            return _gpu!;
        }
    }

    [Test]
    public void TryCreate_explains_a_missing_driver_without_throwing()
    {
        if (NativeLibraries.IsAvailable(Lib.Cuda))
        {
            Assert.That(GpuRuntime.TryCreate(99, out var none, out var why), Is.False);
            Assert.That(none, Is.Null);
            Assert.That(why, Does.StartWith("no CUDA device").Or.StartWith("CUDA driver failed to initialise"));
            return;
        }
        Assert.That(GpuRuntime.TryCreate(out var rt, out var whyNot), Is.False);
        Assert.That(rt, Is.Null);
        Assert.That(whyNot, Does.StartWith("no CUDA driver: Native library for 'sara:cuda' not found.")
            .And.Contain("libcuda.so.1").And.Contain("Install the NVIDIA driver"));
    }

    [Test]
    public void Memory_round_trips_and_memset()
    {
        var gpu = Gpu;
        var x = new Rand().Normal(1000);
        var p = gpu.AllocRaw(x.Length * sizeof(float));
        var q = gpu.AllocRaw(x.Length * sizeof(float));
        try
        {
            gpu.CopyToDevice(p, AsBytes(x));
            gpu.Memset32(q, BitConverter.SingleToUInt32Bits(float.NaN), x.Length);
            gpu.CopyDeviceToDevice(q, p, x.Length * sizeof(float));
            var back = Download(gpu, q, x.Length);
            Assert.That(back, Is.EqualTo(x));
            gpu.Memset32(q, BitConverter.SingleToUInt32Bits(2.5f), 10);
            back = Download(gpu, q, x.Length);
            Assert.That(back.Take(10), Is.All.EqualTo(2.5f));
            Assert.That(back.Skip(10), Is.EqualTo(x.Skip(10)));
        }
        finally
        {
            gpu.FreeRaw(p);
            gpu.FreeRaw(q);
        }
    }

    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    [TestCase(true, true)]
    public void Gemm_is_row_major(bool ta, bool tb)
    {
        var gpu = Gpu;
        const int m = 67, n = 45, k = 33;
        var rand = new Rand();
        var (ar, ac) = ta ? (k, m) : (m, k);
        var (br, bc) = tb ? (n, k) : (k, n);
        var a = rand.Normal(ar * ac);
        var b = rand.Normal(br * bc);
        var c0 = rand.Normal(m * n);
        const float alpha = 0.75f, beta = -0.5f;
        var want = Oracle.Add(Array.ConvertAll(Oracle.MatMul(Oracle.D(a), ar, ac, ta, Oracle.D(b), br, bc, tb), x => alpha * x), Oracle.D(c0), beta);

        using var da = Upload(gpu, a);
        using var db = Upload(gpu, b);
        using var dc = Upload(gpu, c0);
        gpu.Gemm(ta, tb, m, n, k, alpha, da.Ptr, ac, db.Ptr, bc, beta, dc.Ptr, n);
        Oracle.AssertClose(Download(gpu, dc.Ptr, m * n), want, 1e-5, $"gemm ta={ta} tb={tb}");
    }

    [Test]
    public void Gemm_rejects_bad_leading_dimensions()
    {
        var gpu = Gpu;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => gpu.Gemm(false, false, 4, 5, 6, 1, 1, 5, 1, 5, 0, 1, 5));
        Assert.That(e!.ParamName, Is.EqualTo("lda"));
    }

    [TestCase(48, 31)]
    [TestCase(31, 48)]
    [TestCase(40, 40)]
    public void Gesvd_matches_float64(int m, int n)
    {
        var gpu = Gpu;
        var r = Math.Min(m, n);
        var a = new Rand().Normal(m * n);
        var ad = Oracle.D(a);
        using var da = Upload(gpu, a);
        using var ds = Upload(gpu, Poison(r));
        using var du = Upload(gpu, Poison(m * r));
        using var dvt = Upload(gpu, Poison(r * n));
        gpu.Gesvd(m, n, da.Ptr, ds.Ptr, du.Ptr, dvt.Ptr);
        var s = Download(gpu, ds.Ptr, r);
        var u = Download(gpu, du.Ptr, m * r);
        var vt = Download(gpu, dvt.Ptr, r * n);

        var sd = new double[r];
        var work = (double[])ad.Clone();
        fixed (double* pa = work, ps = sd)
            Lapacke.Check(Lapacke.Dgesdd(Lapacke.RowMajor, (byte)'N', m, n, (nint)pa, n, (nint)ps, 0, 1, 0, n), "LAPACKE_dgesdd");
        Oracle.AssertClose(s, sd, 1e-5, "singular values");
        var usv = Oracle.MatMul(Oracle.ScaleColumns(Oracle.D(u), m, r, Oracle.D(s)), m, r, false, Oracle.D(vt), r, n, false);
        Oracle.AssertClose(Array.ConvertAll(usv, x => (float)x), ad, 1e-5, "U diag(s) V^T");

        // Singular values only.
        using var da2 = Upload(gpu, a);
        using var ds2 = Upload(gpu, Poison(r));
        gpu.Gesvd(m, n, da2.Ptr, ds2.Ptr, 0, 0);
        Oracle.AssertClose(Download(gpu, ds2.Ptr, r), sd, 1e-5, "singular values only");
    }

    [Test]
    public void Potrf_gives_row_major_lower_factor()
    {
        var gpu = Gpu;
        const int n = 37;
        var (spd, l) = Cholesky(gpu, n);
        var llt = Oracle.MatMul(Oracle.D(l), n, n, false, Oracle.D(l), n, n, true);
        Oracle.AssertClose(Array.ConvertAll(llt, x => (float)x), spd, 1e-5, "L L^T");

        using var bad = Upload(gpu, Array.ConvertAll(spd, x => (float)-x));
        var e = Assert.Throws<NativeCallException>(() => gpu.Potrf(n, bad.Ptr));
        Assert.That(e!.Call, Is.EqualTo("cusolverDnSpotrf"));
    }

    [Test]
    public void Syevd_gives_eigenvectors_as_columns()
    {
        var gpu = Gpu;
        const int n = 29;
        var g = Oracle.D(new Rand().Normal(n * n));
        var sym = Oracle.Add(g, Transpose(g, n));
        var symF = Array.ConvertAll(sym, x => (float)x);
        using var da = Upload(gpu, symF);
        using var dw = Upload(gpu, Poison(n));
        gpu.Syevd(n, da.Ptr, dw.Ptr);
        var v = Download(gpu, da.Ptr, n * n);
        var w = Download(gpu, dw.Ptr, n);

        var wd = new double[n];
        var vd = Oracle.D(symF);
        fixed (double* pv = vd, pw = wd)
            Lapacke.Check(Lapacke.Dsyevd(Lapacke.RowMajor, (byte)'N', (byte)'L', n, (nint)pv, n, (nint)pw), "LAPACKE_dsyevd");
        Oracle.AssertClose(w, wd, 1e-5, "eigenvalues");
        var av = Oracle.MatMul(Oracle.D(symF), n, n, false, Oracle.D(v), n, n, false);
        Oracle.AssertClose(Array.ConvertAll(av, x => (float)x), Oracle.ScaleColumns(Oracle.D(v), n, n, Oracle.D(w)), 1e-4, "A V = V diag(w)");
    }

    [TestCase(0L)]
    [TestCase(1L)]   // CU_STREAM_LEGACY
    [TestCase(2L)]   // CU_STREAM_PER_THREAD
    public void Runs_on_an_implicit_stream_it_is_given(long stream)
    {
        var gpu = Gpu;
        gpu.Synchronize();   // makes the primary context current on this thread
        using var rt = new GpuRuntime(new RuntimeOptions { UseCurrentContext = true, Stream = (nint)stream });
        Assert.That(rt.Context, Is.EqualTo(gpu.Context), "the current context is the primary one the fixture retained");
        Assert.That(rt.Stream, Is.EqualTo((nint)stream));
        GemmAndSolverOn(rt);
        Assert.That(rt.Counters.HostWaits, Is.GreaterThan(0));
    }

    [Test]
    public void Runs_on_another_runtimes_stream_and_leaves_it_alive()
    {
        var gpu = Gpu;
        using (var rt = new GpuRuntime(new RuntimeOptions { Stream = gpu.Stream })) GemmAndSolverOn(rt);
        gpu.Synchronize();   // the borrowed stream survived the borrower's Dispose
        var e = Assert.Throws<ArgumentException>(() => new GpuRuntime(new RuntimeOptions { UseCurrentContext = true, Context = gpu.Context }));
        Assert.That(e!.Message, Does.Contain("either Context or UseCurrentContext"));
    }

    /// <summary>A GEMM, a Cholesky (its device-side triangle clean-up) and a download, all on <paramref name="rt"/>'s stream.</summary>
    private static void GemmAndSolverOn(GpuRuntime rt)
    {
        const int m = 33, n = 17, k = 9;
        var rand = new Rand();
        var a = rand.Normal(m * k);
        var b = rand.Normal(k * n);
        using var da = Upload(rt, a);
        using var db = Upload(rt, b);
        using var dc = Upload(rt, Poison(m * n));
        rt.Gemm(false, false, m, n, k, 1f, da.Ptr, k, db.Ptr, n, 0f, dc.Ptr, n);
        Oracle.AssertClose(Download(rt, dc.Ptr, m * n), Oracle.MatMul(Oracle.D(a), m, k, false, Oracle.D(b), k, n, false), 1e-5, "gemm on the given stream");

        Cholesky(rt, n);
    }

    /// <summary>Potrf of a fresh random SPD matrix (returned with the factor); checks the strict upper triangle came back zeroed.</summary>
    private static (double[] Spd, float[] L) Cholesky(GpuRuntime rt, int n)
    {
        var g = Oracle.D(new Rand().Normal(n * n));
        var spd = Oracle.MatMul(g, n, n, false, g, n, n, true);
        for (var i = 0; i < n; i++) spd[i * n + i] += n;
        using var ds = Upload(rt, Array.ConvertAll(spd, x => (float)x));
        rt.Potrf(n, ds.Ptr);
        var l = Download(rt, ds.Ptr, n * n);
        for (var i = 0; i < n; i++)
            for (var j = i + 1; j < n; j++) Assert.That(l[i * n + j], Is.EqualTo(0f), $"upper ({i},{j}) zeroed on the device");
        return (spd, l);
    }

    [Test]
    public void Every_embedded_kernel_resolves()
    {
        var gpu = Gpu;
        var table = new List<string>();
        foreach (var file in KernelSources.SourceFiles)
            foreach (var kernel in KernelSources.EntryPoints(KernelSources.ReadText(file)))
            {
                var regs = gpu.KernelAttribute(kernel, CUfunction_attribute.NumRegs);
                var local = gpu.KernelAttribute(kernel, CUfunction_attribute.LocalSizeBytes);
                table.Add($"{file,-18} {kernel,-34} regs {regs,3} local {local,5} B");
                Assert.That(regs, Is.InRange(1, 255), kernel);
            }
        TestContext.Out.WriteLine(string.Join("\n", gpu.KernelModuleNotes));
        TestContext.Out.WriteLine(string.Join("\n", table));
        Assert.That(table, Is.Not.Empty);
        var e = Assert.Throws<NativeCallException>(() => gpu.Launch("sara_no_such_kernel", 1, 32, 0, []));
        Assert.That(e!.StatusName, Is.EqualTo("CUDA_ERROR_NOT_FOUND"));
    }

    private static double[] Transpose(double[] a, int n)
    {
        var t = new double[a.Length];
        for (var i = 0; i < n; i++)
            for (var j = 0; j < n; j++) t[j * n + i] = a[i * n + j];
        return t;
    }

    private static float[] Poison(int count)
    {
        var a = new float[count];
        Array.Fill(a, float.NaN);
        return a;
    }

    private static ReadOnlySpan<byte> AsBytes(float[] x) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan());

    private static float[] Download(GpuRuntime gpu, nint p, int count)
    {
        var x = new float[count];
        gpu.CopyToHost(System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan()), p);
        return x;
    }

    private static DeviceArray Upload(GpuRuntime gpu, float[] x)
    {
        var p = gpu.AllocRaw(x.Length * sizeof(float));
        gpu.CopyToDevice(p, AsBytes(x));
        return new DeviceArray(gpu, p);
    }

    private readonly record struct DeviceArray(GpuRuntime Gpu, nint Ptr) : IDisposable
    {
        public void Dispose() => Gpu.FreeRaw(Ptr);
    }
}
