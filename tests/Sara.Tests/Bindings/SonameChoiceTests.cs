using Sara.Bindings;

namespace Sara.Tests.Bindings;

/// <summary>
/// The resolver's soname choice for the CUDA libraries under a given driver version (the seam: ProbeOrder takes the
/// version cuDriverGetVersion would report): names of a newer CUDA major than the driver's are skipped, in order, and say so.
/// </summary>
[TestFixture]
[NonParallelizable]
public class SonameChoiceTests
{
    [TestCase(12040, new[] { "libcublas.so.12", "libcublas.so.11", "libcublas.so" }, new[] { "libcublas.so.13" })]
    [TestCase(13000, new[] { "libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so" }, new string[0])]
    [TestCase(11080, new[] { "libcublas.so.11", "libcublas.so" }, new[] { "libcublas.so.13", "libcublas.so.12" })]
    public void Cublas_takes_no_soname_newer_than_the_driver(int driver, string[] names, string[] skipped)
    {
        var plan = NativeLibraries.ProbeOrder(Lib.Cublas, driver);
        Assert.That(plan.Names, Is.EqualTo(names));
        Assert.That(plan.Skipped, Is.EqualTo(skipped));
        if (skipped.Length > 0)
            Assert.That(plan.SkipReason, Is.EqualTo($"they need a newer CUDA driver than this one (CUDA {driver / 1000}.{driver % 1000 / 10})"));
    }

    [TestCase(12080, "libcusolver.so.11")]   // cuSOLVER 11.x ships with CUDA 11.1 .. 12.x
    [TestCase(11020, "libcusolver.so.11")]
    [TestCase(13010, "libcusolver.so.12")]
    public void Cusolver_maps_its_sonames_to_cuda_releases(int driver, string first)
    {
        Assert.That(NativeLibraries.ProbeOrder(Lib.Cusolver, driver).Names[0], Is.EqualTo(first));
    }

    [TestCase(12040, "libnvrtc.so.12")]
    [TestCase(11080, "libnvrtc.so.11.2")]
    [TestCase(13000, "libnvrtc.so.13")]
    public void Nvrtc_takes_the_newest_soname_the_driver_can_run(int driver, string first)
    {
        Assert.That(NativeLibraries.ProbeOrder(Lib.Nvrtc, driver).Names[0], Is.EqualTo(first));
    }

    [Test]
    public void Without_a_driver_nothing_is_skipped_and_other_libraries_never_are()
    {
        Assert.That(NativeLibraries.ProbeOrder(Lib.Cublas, null).Names, Is.EqualTo(new[] { "libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so" }));
        Assert.That(NativeLibraries.ProbeOrder(Lib.OpenBlas, 11000).Names, Is.EqualTo(new[] { "libopenblas.so.0", "libopenblas.so" }));
        Assert.That(NativeLibraries.ProbeOrder(Lib.OpenBlas, 11000).Skipped, Is.Empty);
    }

    [Test]
    public void A_forced_file_is_never_skipped()
    {
        NativeLibraries.Override(Lib.Cublas, "/opt/cuda-13/libcublas.so.13");
        try
        {
            Assert.That(NativeLibraries.ProbeOrder(Lib.Cublas, 12040).Names, Is.EqualTo(new[] { "/opt/cuda-13/libcublas.so.13" }));
        }
        finally
        {
            NativeLibraries.ClearOverride(Lib.Cublas);
        }
    }

    [Test]
    public void The_driver_version_is_read_from_the_driver_when_there_is_one()
    {
        var v = NativeLibraries.CudaDriverVersion();
        if (NativeLibraries.IsAvailable(Lib.Cuda)) Assert.That(v, Is.GreaterThanOrEqualTo(11000));
        else Assert.That(v, Is.Null, "no libcuda: no version, so no soname is skipped");
    }
}
