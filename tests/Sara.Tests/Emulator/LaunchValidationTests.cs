// Launch validation, the kernel table, threads and version of libsara_emu.so's C ABI.
using System.Text.RegularExpressions;
using Sara.Native.Runtime;
using Emu = Sara.Bindings.Emulator;

namespace Sara.Tests.Emulator;

public sealed class LaunchValidationTests : EmulatorTestBase
{
    [TestCase(0u, 1u, 1u, 32u, 1u, 1u, 0u, "grid dimension is zero")]
    [TestCase(1u, 1u, 0u, 32u, 1u, 1u, 0u, "grid dimension is zero")]
    [TestCase(1u, 1u, 1u, 0u, 1u, 1u, 0u, "block dimension is zero")]
    [TestCase(1u, 1u, 1u, 1025u, 1u, 1u, 0u, "more than 1024 threads per block")]
    [TestCase(1u, 1u, 1u, 32u, 33u, 1u, 0u, "more than 1024 threads per block")]
    [TestCase(1u, 1u, 1u, 1u, 1u, 65u, 0u, "block z 65 exceeds the limit of 64")]
    [TestCase(1u, 1u, 1u, 32u, 1u, 1u, 227u * 1024u + 1u, "exceeds 227 KiB")]
    public void InvalidLaunchReturnsNonZeroWithMessage(uint gx, uint gy, uint gz, uint bx, uint by, uint bz, uint dyn, string message)
    {
        var flags = EmuHost.Pinned(64, int.MinValue);
        var rc = EmuHost.TryLaunch(EmuHost.Function("emu_selftest_shared_private"), new Dim3(gx, gy, gz), new Dim3(bx, by, bz), dyn, EmuHost.Ptr(flags), 0);
        Assert.That(rc, Is.Not.Zero);
        Assert.That(Emu.LastError(), Does.Contain(message).And.Contain("emu_selftest_shared_private"));
        Assert.That(flags, Is.All.EqualTo(int.MinValue), "a rejected launch must not run any thread");
    }

    [Test]
    public void NullOrUnknownFunctionIsRejected()
    {
        Assert.That(Emu.GetFunction("no_such_kernel"), Is.EqualTo((nint)0));
        Assert.That(EmuHost.TryLaunch(0, 1u, 1u, 0), Is.Not.Zero);
        Assert.That(Emu.LastError(), Does.Contain("NULL"));
        var notAKernel = EmuHost.Function("emu_selftest_trap") + 1;
        Assert.That(EmuHost.TryLaunch(notAKernel, 1u, 1u, 0), Is.Not.Zero);
        Assert.That(Emu.LastError(), Does.Contain("unknown function"));
    }

    [Test]
    public void LargestDynamicSharedAreaAndBlockAreAccepted()
    {
        var flags = EmuHost.Pinned(1, int.MinValue);
        EmuHost.Launch("emu_selftest_shared_private", 1u, 1024u, 227u * 1024u, EmuHost.Ptr(flags), 0);
        Assert.That(flags[0], Is.EqualTo(1));
    }

    [Test]
    public void EveryRegisteredKernelResolvesByName()
    {
        var count = Emu.KernelCount();
        var names = Enumerable.Range(0, count).Select(i => Emu.KernelName(i)!).ToArray();
        Assert.That(names, Is.Not.Empty);
        Assert.That(names, Is.SupersetOf(new[]
        {
            "emu_selftest_barrier_exit", "emu_selftest_shuffle", "emu_selftest_vote", "emu_selftest_shared_private",
            "emu_selftest_atomics", "emu_selftest_coverage", "emu_selftest_barrier_loop", "emu_selftest_deadlock", "emu_selftest_trap",
        }));
        Assert.That(names, Is.Unique);
        Assert.That(names.Where(n => Emu.GetFunction(n) == 0), Is.Empty);
        Assert.That(Emu.KernelName(count), Is.Null);
        Assert.That(Emu.KernelName(-1), Is.Null);
    }

    [Test]
    public void EveryKernelFileIsCompiledIntoTheLibrary()
    {
        // Sara.Native embeds kernels/*.cu (for NVRTC); every extern "C" __global__ in them must be launchable here.
        var assembly = typeof(EmulatedRuntime).Assembly;
        var sources = assembly.GetManifestResourceNames().Where(n => n.StartsWith("kernels/", StringComparison.Ordinal) && n.EndsWith(".cu", StringComparison.Ordinal)).ToArray();
        Assert.That(sources, Is.Not.Empty);
        var declared = sources
            .SelectMany(name =>
            {
                using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
                return Regex.Matches(Regex.Replace(reader.ReadToEnd(), "//[^\n]*", ""),
                    @"extern\s+""C""\s+__global__\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?(\w+)\s*\(");
            })
            .Select(m => m.Groups[1].Value).Distinct().ToArray();
        Assert.That(declared, Has.Length.GreaterThanOrEqualTo(sources.Length), "every kernel file declares at least one kernel");
        var registered = Enumerable.Range(0, Emu.KernelCount()).Select(i => Emu.KernelName(i)).ToHashSet();
        Assert.That(declared.Where(d => !registered.Contains(d)), Is.Empty,
            "kernels declared in kernels/*.cu but missing from libsara_emu.so (rebuild: cmake --build artifacts/emu-build)");
    }

    [Test]
    public void ThreadsCanBeSetAndRestored()
    {
        Emu.SetThreads(3);
        Assert.That(Emu.GetThreads(), Is.EqualTo(3));
        var outp = EmuHost.Pinned(4 * 32, int.MinValue);
        EmuHost.Launch("emu_selftest_trap", 4u, 32u, 0, EmuHost.Ptr(outp), -1);
        Assert.That(outp, Is.EqualTo(Enumerable.Range(0, 4 * 32).ToArray()));
        Emu.SetThreads(1);
        Assert.That(Emu.GetThreads(), Is.EqualTo(1));
        Emu.SetThreads(0);
        Assert.That(Emu.GetThreads(), Is.GreaterThanOrEqualTo(1));
        Assert.That(Emu.Version(), Does.StartWith("sara_emu"));
    }
}
