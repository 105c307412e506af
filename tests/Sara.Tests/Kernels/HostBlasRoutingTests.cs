using Sara.Bindings;
using Sara.Native.Backends;
using Sara.Native.Runtime;
using Sara.Native.Runtime.HostKernels;
using Sara.Tests.Support;

namespace Sara.Tests.Kernels;

/// <summary>
/// Where the AVX-512 rank-k kernels are off (a CPU without AVX-512F, or SARA_CPU_SKINNY_GEMM=0), HostBlas must send
/// every shape, rank-k ones included, to OpenBLAS: the kernels' own parity tests (SkinnyGemmTests) skip on such a CPU,
/// so this is what is tested there. On an AVX-512 machine the kernels are switched off for these tests.
/// </summary>
[NonParallelizable] // SkinnyGemm.Enabled is process-wide
public unsafe class HostBlasRoutingTests
{
    private bool _saved;

    [SetUp]
    public void TurnTheKernelsOff()
    {
        _saved = SkinnyGemm.Enabled;
        SkinnyGemm.Enabled = false;
    }

    [TearDown]
    public void Restore() => SkinnyGemm.Enabled = _saved;

    [Test]
    public void WithoutAvx512FTheKernelsCannotBeTurnedOn()
    {
        SkinnyGemm.Enabled = true;
        Assert.That(SkinnyGemm.Enabled, Is.EqualTo(SkinnyGemm.IsSupported), "Enabled = true takes effect only on an AVX-512F CPU");
        if (!SkinnyGemm.IsSupported)
        {
            Assert.That(_saved, Is.False, "off by default on this CPU");
            using var cpu = new CpuBackend();
            Assert.That(cpu.Description, Does.EndWith("rank-k GEMMs on OpenBLAS)"));
        }
    }

    private static IEnumerable<TestCaseData> Shapes() =>
        SkinnyGemmTests.Forms.Select(f => new TestCaseData(f.TransA, f.TransB, f.M, f.N, f.K).SetArgDisplayNames(f.What, $"m{f.M}", $"n{f.N}", $"k{f.K}"))
            .Append(new TestCaseData(false, false, 300, 300, 300).SetArgDisplayNames("square", "m300", "n300", "k300"));

    [TestCaseSource(nameof(Shapes))]
    public void EveryShapeGoesToOpenBlas(bool transA, bool transB, int m, int n, int k)
    {
        var rand = new Rand();
        int aCols = transA ? m : k, bCols = transB ? k : n;
        var a = rand.Normal((long)m * k);
        var b = rand.Normal((long)k * n);
        var c0 = rand.Normal((long)m * n);
        var viaHostBlas = (float[])c0.Clone();
        var viaOpenBlas = (float[])c0.Clone();
        var untouched = Enumerable.Repeat(float.NaN, m * n).ToArray();
        fixed (float* pa = a, pb = b, ph = viaHostBlas, po = viaOpenBlas, pu = untouched)
        {
            Assert.That(SkinnyGemm.TryRun(transA, transB, m, n, k, 0.75f, (nint)pa, aCols, (nint)pb, bCols, 0.5f, (nint)pu, n), Is.False,
                "with the kernels off no shape may be taken");
            HostBlas.Sgemm(transA, transB, m, n, k, 0.75f, (nint)pa, aCols, (nint)pb, bCols, 0.5f, (nint)ph, n);
            OpenBlas.Sgemm(OpenBlas.RowMajor, transA ? OpenBlas.Trans : OpenBlas.NoTrans, transB ? OpenBlas.Trans : OpenBlas.NoTrans,
                m, n, k, 0.75f, (nint)pa, aCols, (nint)pb, bCols, 0.5f, (nint)po, n);
        }
        Assert.That(untouched, Is.All.NaN, "a declined call leaves C alone");
        Assert.That(viaHostBlas, Is.EqualTo(viaOpenBlas), "HostBlas must give OpenBLAS's own bits");
        // And the bits are right: against the float64 oracle.
        var want = Oracle.Add(Array.ConvertAll(Oracle.MatMul(Oracle.D(a), transA ? k : m, aCols, transA, Oracle.D(b), transB ? n : k, bCols, transB),
            v => 0.75 * v), Oracle.D(c0), 0.5);
        Oracle.AssertClose(viaHostBlas, want, 1e-5, "C");
    }
}
