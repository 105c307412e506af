using Sara.Bindings;
using Sara.Native.Runtime;

namespace Sara.Tests.Bindings;

/// <summary>NVRTC is present wherever the tests run (DESIGN 2.1): version and status names through the bindings.</summary>
[TestFixture]
public class NvrtcBindingTests
{
    [Test]
    public void Version_is_at_least_11_2()
    {
        var (major, minor) = KernelCompiler.NvrtcVersion();
        TestContext.Out.WriteLine($"NVRTC {major}.{minor}");
        Assert.That(major * 100 + minor, Is.GreaterThanOrEqualTo(1102));
    }

    [Test]
    public void Status_names_come_from_nvrtcGetErrorString()
    {
        Assert.That(Nvrtc.ErrorName(NvrtcResult.NVRTC_ERROR_COMPILATION), Is.EqualTo("NVRTC_ERROR_COMPILATION"));
        Assert.That(Nvrtc.ErrorName(NvrtcResult.NVRTC_ERROR_INVALID_OPTION), Is.EqualTo("NVRTC_ERROR_INVALID_OPTION"));
        var e = Assert.Throws<NativeCallException>(() => Nvrtc.Check(NvrtcResult.NVRTC_ERROR_INVALID_INPUT, "nvrtcCreateProgram"));
        Assert.That(e!.Message, Is.EqualTo("nvrtcCreateProgram failed: NVRTC_ERROR_INVALID_INPUT"));
        Assert.That(e.Code, Is.EqualTo(3));
    }

    [Test]
    public void Status_names_for_the_other_libraries_follow_their_enums()
    {
        var blas = Assert.Throws<NativeCallException>(() => Cublas.Check(CublasStatus.CUBLAS_STATUS_INVALID_VALUE, "cublasSgemm_v2"));
        Assert.That(blas!.Message, Is.EqualTo("cublasSgemm_v2 failed: CUBLAS_STATUS_INVALID_VALUE"));
        var solver = Assert.Throws<NativeCallException>(() => Cusolver.Check(CusolverStatus.CUSOLVER_STATUS_ZERO_PIVOT, "cusolverDnSpotrf"));
        Assert.That(solver!.Message, Is.EqualTo("cusolverDnSpotrf failed: CUSOLVER_STATUS_ZERO_PIVOT"));
        Assert.That(Lapacke.InfoName(-3, "cusolverDnSgesvd"), Is.EqualTo("ILLEGAL_ARGUMENT_3"));
    }
}
