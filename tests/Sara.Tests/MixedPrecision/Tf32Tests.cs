// TF32 for float32 GEMMs: an explicit option of the GPU runtime, off by default (results then meet the 1e-5 oracle
// tolerance); the emulator accepts the setting and stays in full float32.
using Sara.Native.Backends;
using Sara.Native.Runtime;
using Sara.Tests.Support;

namespace Sara.Tests.MixedPrecision;

public class Tf32Tests
{
    private static double GemmError(Backend backend, Rand r)
    {
        const int m = 96, n = 80, k = 512;
        float[] av = r.Normal(m * k), bv = r.Normal(k * n);
        using var a = backend.FromArray(av, m, k);
        using var b = backend.FromArray(bv, k, n);
        using var c = backend.Empty(m, n);
        backend.Gemm(a, false, b, false, c);
        return Oracle.RelErr(c.ToArray(), Oracle.MatMul(Oracle.D(av), m, k, false, Oracle.D(bv), k, n, false));
    }

    [Test, Category("gpu")]
    public void Tf32IsAnExplicitOptionOffByDefault()
    {
        using var backend = TestDevices.Create("cuda");
        var gpu = (GpuRuntime)((CudaBackend)backend).Runtime;
        var r = new Rand();
        Assert.That(gpu.AllowTf32, Is.False, "off by default");
        Assert.That(GemmError(backend, r), Is.Not.NaN.And.LessThan(1e-5), "full FP32 by default");
        gpu.AllowTf32 = true;
        Assert.That(gpu.AllowTf32, Is.True);
        var tf32 = GemmError(backend, r);
        TestContext.Out.WriteLine($"TF32 GEMM relative error {tf32:E2}");
        Assert.That(tf32, Is.Not.NaN.And.LessThan(2e-3), "TF32 keeps 10 mantissa bits");
        gpu.AllowTf32 = false;
        Assert.That(GemmError(backend, r), Is.Not.NaN.And.LessThan(1e-5), "and switches back");
    }

    [Test]
    public void TheEmulatorKeepsFullFloat32WhenTf32IsAllowed()
    {
        using var backend = (CudaBackend)TestDevices.Create("emu");
        Assert.That(backend.Runtime.AllowTf32, Is.False, "off by default");
        backend.Runtime.AllowTf32 = true;
        Assert.That(GemmError(backend, new Rand()), Is.Not.NaN.And.LessThan(1e-5));
    }
}
