using System.Runtime.InteropServices;
using Sara.Bindings;

namespace Sara.Tests.Bindings;

/// <summary>
/// A library that cannot be loaded surfaces as NativeLibraryMissingException listing the names tried, both from
/// the resolver and through a real [LibraryImport] call. LAPACKE is pointed at a missing file and restored after.
/// </summary>
[TestFixture]
[NonParallelizable]
public partial class MissingLibraryTests
{
    private const string Missing = "/nonexistent/sara-test/liblapacke-missing.so";

    static MissingLibraryTests()
    {
        // Route this assembly's "sara:" imports through the same resolver (once per assembly).
        try { NativeLibraries.Register(typeof(MissingLibraryTests).Assembly); }
        catch (InvalidOperationException) { }
    }

    // Called only by this fixture, only while the override is in place: its first binding must fail.
    [LibraryImport(Lib.Lapacke, EntryPoint = "LAPACKE_spotrf")]
    private static partial int SpotrfOnlyCalledHere(int layout, byte uplo, int n, nint a, int lda);

    [SetUp]
    public void PointLapackeAtAMissingFile()
    {
        Assert.That(NativeLibraries.IsAvailable(Lib.Lapacke), Is.True, "LAPACKE must be installed for this test (apt-get install liblapacke)");
        NativeLibraries.Override(Lib.Lapacke, Missing);
    }

    [TearDown]
    public void Restore()
    {
        NativeLibraries.ClearOverride(Lib.Lapacke);
        Assert.That(NativeLibraries.IsAvailable(Lib.Lapacke), Is.True, "LAPACKE restored");
    }

    [Test]
    public void The_resolver_names_the_library_and_every_name_tried()
    {
        var e = Assert.Throws<NativeLibraryMissingException>(() => NativeLibraries.Load(Lib.Lapacke));
        Assert.That(e!.LogicalName, Is.EqualTo(Lib.Lapacke));
        Assert.That(e.Tried, Is.EqualTo(new[] { Missing }));
        Assert.That(e.Message, Does.Contain(Missing).And.Contain("Install LAPACKE"));
        Assert.That(NativeLibraries.IsAvailable(Lib.Lapacke), Is.False);
    }

    [Test]
    public void A_library_import_call_throws_the_resolver_exception()
    {
        var e = Assert.Throws<NativeLibraryMissingException>(() => SpotrfOnlyCalledHere(Lapacke.RowMajor, (byte)'L', 1, 0, 1));
        Assert.That(e!.Tried, Has.Member(Missing));
        Assert.That(e, Is.InstanceOf<DllNotFoundException>(), "callers that catch DllNotFoundException see it too");
    }

    [Test]
    public void The_cuda_driver_names_its_sonames_where_it_is_absent()
    {
        if (NativeLibraries.IsAvailable(Lib.Cuda))
        {
            Assert.That(Cuda.cuDriverGetVersion(out var v), Is.EqualTo(CUresult.CUDA_SUCCESS));
            Assert.That(v, Is.GreaterThanOrEqualTo(11000), "driver API version");
            return;
        }
        var e = Assert.Throws<NativeLibraryMissingException>(() => NativeLibraries.Load(Lib.Cuda));
        Assert.That(e!.Tried, Does.Contain("libcuda.so.1"));
        Assert.That(e.Message, Does.Contain("NVIDIA driver"));
    }
}
