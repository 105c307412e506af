using Sara.Bindings;
using Sara.Native.Runtime;

namespace Sara.Tests.Runtime;

/// <summary>
/// The pieces of the GPU start and launch paths that hold without a GPU: the PTX step-down when NVRTC does not know the
/// device (with the installed NVRTC's own architecture list) and the shared-memory opt-in rule.
/// </summary>
[TestFixture]
[NonParallelizable]
public class GpuStartPathTests
{
    [Test]
    public void The_ptx_fallback_steps_down_from_the_device_through_what_nvrtc_supports()
    {
        Assert.That(KernelCompiler.PtxFallbackArchs(100, [35, 50, 60, 70, 75, 80, 86, 87, 89, 90]),
            Is.EqualTo(new[] { "compute_90", "compute_89", "compute_87", "compute_86", "compute_80", "compute_75", "compute_70", "compute_60", "compute_50", "compute_35" }));
        Assert.That(KernelCompiler.PtxFallbackArchs(86, [75, 80, 90]), Is.EqualTo(new[] { "compute_80", "compute_75" }));
        var blind = KernelCompiler.PtxFallbackArchs(120, null);   // NVRTC before 11.2 cannot list its architectures
        Assert.That(blind.Take(3), Is.EqualTo(new[] { "compute_90", "compute_89", "compute_87" }));
        Assert.That(blind, Is.Ordered.Descending.Using<string>((a, b) => int.Parse(a[8..]).CompareTo(int.Parse(b[8..]))));
    }

    [Test]
    public void The_installed_nvrtc_rejects_a_device_newer_than_it_knows_and_the_fallback_compiles_ptx()
    {
        var archs = KernelCompiler.SupportedArchs();
        Assert.That(archs, Is.Not.Null.And.Not.Empty, "NVRTC 11.2+ lists its architectures (nvrtcGetSupportedArchs)");
        Assert.That(archs, Is.Ordered.Ascending.And.Contains(80).And.Contains(90));
        var newest = archs!.Max();
        var beyond = newest + 10;   // a device this NVRTC has never heard of

        const string source = "extern \"C\" __global__ void sara_probe(float* y) { y[threadIdx.x] = 1.0f; }\n";
        var e = Assert.Throws<NativeCallException>(() => KernelCompiler.Compile("probe.cu", source, new Dictionary<string, string>(), $"sm_{beyond}"));
        Assert.That(KernelCompiler.IsUnknownArch(e!), Is.True, e!.Message);

        var fallback = KernelCompiler.PtxFallbackArchs(beyond, archs)[0];
        Assert.That(fallback, Is.EqualTo($"compute_{newest}"));
        var ptx = KernelCompiler.Compile("probe.cu", source, new Dictionary<string, string>(), fallback);
        Assert.That(ptx.Cubin, Is.Empty, "PTX only: the driver JIT-compiles it for the device");
        Assert.That(ptx.Ptx, Does.Contain($".target sm_{newest}").And.Contain("sara_probe"));
    }

    [TestCase(0, 48 * 1024u, 0u, false, TestName = "48 KiB dynamic alone needs no opt-in")]
    [TestCase(1024, 48 * 1024u, 0u, true, TestName = "static bytes count: 1 KiB static + 48 KiB dynamic needs it")]
    [TestCase(16 * 1024, 40 * 1024u, 0u, true, TestName = "40 KiB dynamic needs it beside 16 KiB static")]
    [TestCase(1024, 48 * 1024u, 48 * 1024u, false, TestName = "an opt-in already made holds")]
    [TestCase(1024, 64 * 1024u, 48 * 1024u, true, TestName = "a larger size needs a new opt-in")]
    public void Shared_memory_opt_in_counts_static_and_dynamic_bytes(int staticBytes, uint dynamicBytes, uint set, bool needed)
    {
        Assert.That(SharedMemoryOptIn.Needed("k", staticBytes, dynamicBytes, 227 * 1024, set), Is.EqualTo(needed));
    }

    [Test]
    public void Shared_memory_beyond_the_devices_opt_in_limit_is_refused_by_name()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SharedMemoryOptIn.Needed("sara_big", 16 * 1024, 212 * 1024, 227 * 1024, 0));
        Assert.That(e!.Message, Does.Contain("sara_big: 16384 static + 217088 dynamic bytes").And.Contain("232448-byte limit per block (MaxSharedMemoryPerBlockOptin)"));
        Assert.That(SharedMemoryOptIn.Needed("fits", 0, 227 * 1024, 227 * 1024, 0), Is.True, "exactly the limit fits");
    }
}
