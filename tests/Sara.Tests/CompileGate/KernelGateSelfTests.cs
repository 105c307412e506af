using Sara.Bindings;
using Sara.Native.Runtime;

namespace Sara.Tests.CompileGate;

/// <summary>
/// Proves the gate can fail: scratch kernels that spill, warn or do not compile are rejected, a clean one passes,
/// the ptxas report is parsed field by field, and the NVRTC disk cache is keyed and reused.
/// </summary>
[TestFixture]
public class KernelGateSelfTests
{
    private const string Clean = """
        #include "common.cuh"
        extern "C" __global__ void __launch_bounds__(256)
        scratch_sum(const float* __restrict__ x, float* __restrict__ y, int n)
        {
            __shared__ float part[8];
            const int i = blockIdx.x * blockDim.x + threadIdx.x;
            float v = sara_warp_sum(i < n ? x[i] : 0.f);
            if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
            __syncthreads();
            if (threadIdx.x == 0) { float t = 0.f; for (int w = 0; w < 8; w++) t += part[w]; atomicAdd(y, t); }
        }
        extern "C" __global__ void scratch_scale(float* y, float s, int n)
        {
            const int i = blockIdx.x * blockDim.x + threadIdx.x;
            if (i < n) y[i] *= s;
        }
        """;

    // 64 live values per thread with a 24-register cap: ptxas must spill.
    private const string Spilling = """
        #include "common.cuh"
        extern "C" __global__ void scratch_spill(const float* x, float* y, int n)
        {
            float a[64];
        #pragma unroll
            for (int j = 0; j < 64; j++) a[j] = x[threadIdx.x + j * n];
            float t = 0.f;
        #pragma unroll
            for (int j = 0; j < 64; j++)
        #pragma unroll
                for (int q = 0; q < 64; q++) t += a[j] * a[q] * a[(j + q) & 63];
            y[threadIdx.x] = t;
        }
        """;

    private const string Warning = """
        #include "common.cuh"
        extern "C" __global__ void scratch_warn(float* y) { int unused = 3; y[0] = 1.f; }
        """;

    private const string Broken = """
        #include "common.cuh"
        #include <cstdint>
        extern "C" __global__ void scratch_broken(float* y) { y[0] = 1.f; }
        """;

    private static IReadOnlyDictionary<string, string> Headers => KernelGate.Headers();

    [TestCase("sm_80")]
    [TestCase("sm_90")]
    public void A_clean_kernel_passes_and_is_reported(string arch)
    {
        var r = KernelCompiler.Compile("scratch_clean.cu", Clean, Headers, arch);
        TestContext.Out.WriteLine(KernelGate.Table([r]));
        Assert.That(KernelGate.Problems(r, KernelSources.EntryPoints(Clean)), Is.Empty, r.Log);
        Assert.That(KernelSources.EntryPoints(Clean), Is.EquivalentTo(new[] { "scratch_sum", "scratch_scale" }));
        var sum = r.Functions.Single(f => f.Function == "scratch_sum");
        Assert.That(sum.IsEntry, Is.True);
        Assert.That(sum.Arch, Is.EqualTo(arch));
        Assert.That(sum.Registers, Is.InRange(1, 255));
        Assert.That(sum.SharedBytes, Is.EqualTo(8 * sizeof(float)), "the static __shared__ float[8]");
        Assert.That(r.Cubin.AsSpan(0, 4).ToArray(), Is.EqualTo(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F' }), "cubin is an ELF image");
        Assert.That(r.Ptx, Does.Contain(".entry scratch_sum").And.Contain($".target {arch}"));
    }

    [Test]
    public void A_spilling_kernel_is_rejected()
    {
        var r = KernelCompiler.Compile("scratch_spill.cu", Spilling, Headers, "sm_90", ["--maxrregcount=24"]);
        TestContext.Out.WriteLine(KernelGate.Table([r]));
        var problems = KernelGate.Problems(r, KernelSources.EntryPoints(Spilling));
        Assert.That(r.Functions.Single(f => f.Function == "scratch_spill").SpillBytes, Is.GreaterThan(0), r.Log);
        Assert.That(problems, Has.Some.StartsWith("spill: scratch_spill"));
    }

    [Test]
    public void A_kernel_with_a_warning_is_rejected()
    {
        var r = KernelCompiler.Compile("scratch_warn.cu", Warning, Headers, "sm_80");
        Assert.That(KernelGate.Problems(r, ["scratch_warn"]), Has.Some.Contains("was declared but never referenced"), r.Log);
    }

    [Test]
    public void A_kernel_that_does_not_compile_throws_with_the_log()
    {
        var e = Assert.Throws<NativeCallException>(() => KernelCompiler.Compile("scratch_broken.cu", Broken, Headers, "sm_90"));
        Assert.That(e!.Call, Is.EqualTo("nvrtcCompileProgram"));
        Assert.That(e.StatusName, Is.EqualTo("NVRTC_ERROR_COMPILATION"));
        Assert.That(e.Message, Does.Contain("scratch_broken.cu").And.Contain("cstdint"));
    }

    [Test]
    public void An_entry_point_missing_from_the_report_is_a_problem()
    {
        var r = KernelCompiler.Compile("scratch_clean.cu", Clean, Headers, "sm_90");
        Assert.That(KernelGate.Problems(r, ["scratch_sum", "scratch_absent"]), Is.EqualTo(new[] { "entry point scratch_absent missing from the ptxas report" }));
    }

    [Test]
    public void Unsupported_options_are_named_by_nvrtc()
    {
        var e = Assert.Throws<NativeCallException>(() => KernelCompiler.Compile("scratch_clean.cu", Clean, Headers, "sm_90", ["--no-such-option"]));
        Assert.That(e!.StatusName, Is.EqualTo("NVRTC_ERROR_INVALID_OPTION"));
        Assert.Throws<ArgumentException>(() => KernelCompiler.Options("90"));
    }

    [Test]
    public void A_compute_target_gives_ptx_only()
    {
        var r = KernelCompiler.Compile("scratch_clean.cu", Clean, Headers, "compute_80");
        Assert.That(r.Cubin, Is.Empty);
        Assert.That(r.Ptx, Does.Contain(".target sm_80"));
        Assert.That(r.LoadableImage[^1], Is.EqualTo((byte)0), "PTX handed to cuModuleLoadData is NUL-terminated");
    }

    [Test]
    public void The_ptxas_report_is_parsed_field_by_field()
    {
        // NVRTC 11.8 format, plus the CUDA 12 "used N barriers" field and a non-inlined device function.
        const string log = """
            ptxas info    : 0 bytes gmem
            ptxas info    : Function properties for _Z6helperPf
            ptxas         .     24 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads
            ptxas info    : Compiling entry function 'k_a' for 'sm_90'
            ptxas info    : Function properties for k_a
            ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
            ptxas info    : Used 40 registers, used 1 barriers, 4352 bytes smem, 380 bytes cmem[0]
            ptxas info    : Compiling entry function 'k_b' for 'sm_90'
            ptxas info    : Function properties for k_b
            ptxas         .     16 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads
            ptxas info    : Used 255 registers
            """;
        var f = PtxasReport.Parse(log, "sm_90");
        Assert.That(f, Is.EqualTo(new[]
        {
            new KernelResourceUsage("_Z6helperPf", "sm_90", false, 0, 0, 0, 24, 8, 12),
            new KernelResourceUsage("k_a", "sm_90", true, 40, 4352, 380, 0, 0, 0),
            new KernelResourceUsage("k_b", "sm_90", true, 255, 0, 0, 16, 4, 4),
        }));
    }

    [Test]
    public void The_disk_cache_reuses_identical_compiles_and_keys_on_the_source()
    {
        var old = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var dir = Path.Combine(Path.GetTempPath(), "sara-cache-test-" + Guid.NewGuid().ToString("N"));
        Environment.SetEnvironmentVariable("XDG_CACHE_HOME", dir);
        try
        {
            var cacheDir = KernelCompiler.CacheDirectory();
            Assert.That(cacheDir, Is.EqualTo(Path.Combine(dir, "sara-native")));

            var first = KernelCompiler.CompileCached("scratch_clean.cu", Clean, Headers, "sm_90");
            var files = Directory.GetFiles(cacheDir);
            Assert.That(files, Has.Length.EqualTo(1));
            Assert.That(File.ReadAllBytes(files[0]), Is.EqualTo(first));

            // A hit is served from disk: corrupt the entry and the corrupt bytes come back.
            File.WriteAllBytes(files[0], [1, 2, 3]);
            Assert.That(KernelCompiler.CompileCached("scratch_clean.cu", Clean, Headers, "sm_90"), Is.EqualTo(new byte[] { 1, 2, 3 }));

            KernelCompiler.CompileCached("scratch_clean.cu", Clean + "\n// changed\n", Headers, "sm_90");
            KernelCompiler.CompileCached("scratch_clean.cu", Clean, Headers, "sm_80");
            Assert.That(Directory.GetFiles(cacheDir), Has.Length.EqualTo(3), "source and arch are part of the key");
        }
        finally
        {
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", old);
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
