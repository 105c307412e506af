// The sanitizer's checks on purpose-built kernels (emu_selftest_checks in kernels/emu/selftest.cu): each class of
// bug gives one line naming the check, the kernel, block and thread, and the array or buffer; correct patterns that
// look alike (atomics, warp-synchronous code, neighbouring bytes) pass. The seeded bugs in real kernels are in
// SeededBugTests.
using Emu = Sara.Bindings.Emulator;

namespace Sara.Tests.Emulator;

[NonParallelizable] // sanitizer mode and the schedule are process-wide
public sealed class SanitizerTests : EmulatorTestBase
{
    private string _schedule = "";
    private bool _sanitizing;

    [SetUp]
    public void SanitizerOn()
    {
        _schedule = Emu.Schedule();
        _sanitizing = Emu.Sanitizing();
        Emu.SetSanitize(true);
        Assert.That(Emu.SetSchedule("forward"), Is.Zero);
    }

    [TearDown]
    public void RestoreMode()
    {
        Emu.SetSanitize(_sanitizing);
        Assert.That(Emu.SetSchedule(_schedule), Is.Zero);
    }

    /// <summary>Runs mode on fresh device buffers (n floats per block); returns the status and out.</summary>
    private static (int Rc, float[] Out) Run(int mode, int arg, int threads = 64, int blocks = 2, uint dynamicShared = 0)
    {
        var n = threads * blocks;
        using var input = new DeviceArray<float>(n, 0f);
        for (var i = 0; i < n; i++) input.Span[i] = i;
        using var output = new DeviceArray<float>(n, float.NaN);
        var rc = EmuHost.TryLaunch("emu_selftest_checks", (uint)blocks, (uint)threads, dynamicShared, input.Ptr, output.Ptr, mode, arg);
        return (rc, output.ToArray());
    }

    private static string Fails(int mode, int arg, int threads = 64, int blocks = 2, uint dynamicShared = 0)
    {
        var (rc, _) = Run(mode, arg, threads, blocks, dynamicShared);
        Assert.That(rc, Is.Not.Zero, "the launch must fail");
        var message = Emu.LastError();
        var (rc2, _) = Run(mode, arg, threads, blocks, dynamicShared);
        Assert.That(rc2, Is.Not.Zero);
        Assert.That(Emu.LastError(), Is.EqualTo(message), "the same diagnostic on every run");
        return message;
    }

    [Test]
    public void AReadPastTheEndOfABufferIsMemcheck()
        => Assert.That(Fails(0, 1), Does.StartWith("memcheck: out-of-bounds global read in kernel emu_selftest_checks block (1,0,0) " +
            "thread (63,0,0): bytes [512, 516) of the 512-byte buffer `in` (parameter 0)"));

    [Test]
    public void AReadBeforeTheStartOfABufferIsMemcheck()
        => Assert.That(Fails(0, -1), Does.StartWith("memcheck: out-of-bounds global read in kernel emu_selftest_checks block (0,0,0) " +
            "thread (0,0,0): bytes [-4, 0) of the 512-byte buffer `in` (parameter 0)"));

    [Test]
    public void AMissingBarrierIsARaceOnTheSharedArray()
        => Assert.That(Fails(1, 0), Does.StartWith("racecheck: write-after-read hazard in kernel emu_selftest_checks block (0,0,0) " +
            "thread (1,0,0): it writes shared `s` + 4 (selftest.cu:").And.Contain("read by thread (0,0,0) in the same barrier interval"));

    [Test]
    public void AReadOfSharedMemoryNoThreadWroteIsInitcheck()
        => Assert.That(Fails(2, 0), Does.StartWith("initcheck: kernel emu_selftest_checks block (0,0,0) thread (0,0,0) reads shared `s` + 0")
            .And.Contain("which no thread of this block has written"));

    [Test]
    public void ADynamicSharedOverrunIsMemcheck()
        => Assert.That(Fails(3, 1, dynamicShared: 64 * 4), Does.StartWith("memcheck: out-of-bounds shared write in kernel " +
            "emu_selftest_checks block (0,0,0) thread (63,0,0): bytes [256, 260) of the 256-byte dynamic shared area"));

    [Test]
    public void ThreadsWaitingAtDifferentBarriersAreSynccheck()
        => Assert.That(Fails(4, 16), Does.StartWith("synccheck: divergent barrier in kernel emu_selftest_checks block (0,0,0) thread (16,0,0): " +
            "it waits at __syncthreads (selftest.cu:").And.Contain("while thread (0,0,0) waits at __syncthreads (selftest.cu:"));

    [Test]
    public void AShuffleMaskWithoutTheCallingLaneIsSynccheck()
        => Assert.That(Fails(5, 0), Does.StartWith("synccheck: __shfl_sync in kernel emu_selftest_checks block (0,0,0) thread (1,0,0) " +
            "(selftest.cu:").And.Contain("its mask 0x00000001 omits the calling lane 1"));

    [Test]
    public void LanesMeetingInDifferentWarpOperationsAreSynccheck()
        => Assert.That(Fails(8, 0), Does.StartWith("synccheck: in kernel emu_selftest_checks block (0,0,0) lanes ")
            .And.Contain("meet in different warp operations"));

    [Test]
    public void AnAtomicRacingAPlainWriteIsRacecheck()
        => Assert.That(Fails(7, 0), Does.StartWith("racecheck: write-after-write hazard in kernel emu_selftest_checks block (0,0,0) " +
            "thread (1,0,0): it writes shared `c` + 0"));

    [Test]
    public void WarpSynchronisationOrdersLanesButNotWarps()
    {
        var (rc, outp) = Run(10, 0);
        Assert.That(rc, Is.Zero, Emu.LastError());
        Assert.That(outp.Take(64), Is.EqualTo(Enumerable.Range(0, 64).Select(t => (float)(t ^ 1))));
        Assert.That(Fails(11, 0), Does.StartWith("racecheck: ").And.Contain("shared `s`"));
    }

    [Test]
    public void AtomicsOnSharedMemoryDoNotRaceEachOther()
    {
        var (rc, outp) = Run(6, 0);
        Assert.That(rc, Is.Zero, Emu.LastError());
        Assert.That(outp, Is.All.EqualTo(64f));
    }

    [Test]
    public void NeighbouringThreadsWritingNeighbouringBytesDoNotRace()
    {
        var (rc, outp) = Run(9, 0);
        Assert.That(rc, Is.Zero, Emu.LastError());
        Assert.That(outp.Take(64), Is.EqualTo(Enumerable.Range(0, 64).Select(t => (float)(63 - t))));
    }

    [Test]
    public void FreshAllocationsAreNaNFilledAndAFailedLaunchLeavesTheLibraryUsable()
    {
        using var fresh = new DeviceArray<float>(33);
        Assert.That(fresh.ToArray(), Is.All.NaN);
        Assert.That(Run(0, 1).Rc, Is.Not.Zero);
        var (rc, outp) = Run(0, 0);
        Assert.That(rc, Is.Zero, Emu.LastError());
        Assert.That(outp, Is.EqualTo(Enumerable.Range(0, 128).Select(i => (float)i)));
        Assert.That(Emu.Counters().Checked, Is.GreaterThan(0UL));
    }

    [Test]
    public void FreeingAPointerTheEmulatorDidNotHandOutFails()
    {
        var host = EmuHost.Pinned(4, 0);
        Assert.That(Emu.Free(EmuHost.Ptr(host)), Is.Not.Zero);
        Assert.That(Emu.LastError(), Does.Contain("not a pointer from sara_emu_malloc"));
    }
}
