using Sara.Native.Backends;
using Sara.Native.Runtime;
using Sara.Tests.Support;

namespace Sara.Tests.Backends;

/// <summary>
/// Degenerate GEMM shapes behave the same on every device: an empty output is no work, k = 0 gives C = beta C, and the
/// runtimes apply the same argument rules (GemmArgs) so the emulator refuses what cuBLAS would.
/// </summary>
public class GemmShapeTests
{
    [TestCase("cpu", 0, 5, 3)]
    [TestCase("cpu", 4, 5, 0)]
    [TestCase("emu", 0, 5, 3)]
    [TestCase("emu", 4, 5, 0)]
    [TestCase("cuda", 0, 5, 3)]
    [TestCase("cuda", 4, 5, 0)]
    public void An_empty_output_is_no_work(string device, int m, int k, int n)
    {
        using var backend = TestDevices.Create(device);
        using var a = backend.FromArray(new Rand().Normal(m * k), m, k);
        using var b = backend.FromArray(new Rand().Normal(k * n), k, n);
        using var c = backend.Empty(m, n);
        using var ct = backend.Empty(n, m);
        Assert.DoesNotThrow(() => backend.Gemm(a, false, b, false, c));
        Assert.DoesNotThrow(() => backend.Gemm(b, true, a, true, ct));
    }

    [TestCase("cpu", 0.5f)]
    [TestCase("cpu", 0f)]
    [TestCase("emu", 0.5f)]
    [TestCase("emu", 0f)]
    [TestCase("cuda", 0.5f)]
    [TestCase("cuda", 0f)]
    public void An_empty_inner_dimension_scales_c_by_beta(string device, float beta)
    {
        const int m = 6, n = 5;
        using var backend = TestDevices.Create(device);
        using var a = backend.Empty(m, 0);
        using var b = backend.Empty(0, n);
        var c0 = new Rand().Normal(m * n);
        using var c = backend.FromArray(c0, m, n);
        backend.Gemm(a, false, b, false, c, alpha: 2f, beta: beta);
        Assert.That(c.ToArray(), Is.EqualTo(c0.Select(x => beta * x).ToArray()), "C = beta C (BLAS semantics for k = 0)");
    }

    [Test]
    public void The_emulated_runtime_refuses_the_leading_dimensions_cublas_would()
    {
        using var backend = (CudaBackend)TestDevices.Create("emu");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => backend.Runtime.Gemm(false, false, 4, 5, 6, 1, 1, 5, 1, 5, 0, 1, 5));
        Assert.That(e!.ParamName, Is.EqualTo("lda"));
        e = Assert.Throws<ArgumentOutOfRangeException>(() => backend.Runtime.Gemm(false, false, 0, 3, 2, 1, 1, 0, 1, 3, 0, 1, 3));
        Assert.That(e!.ParamName, Is.EqualTo("lda"), "ld 0 is refused even for an empty matrix, as BLAS does");
        Assert.DoesNotThrow(() => backend.Runtime.Gemm(false, false, 0, 3, 2, 1, 0, 2, 0, 3, 0, 0, 3), "empty output, valid leading dimensions: no work");
    }
}
