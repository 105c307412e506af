// Schedules: the order of threads and blocks is a setting, and two schedules replay every launch and compare bits.
using Sara.Native.Backends;
using Sara.Native.Runtime;
using Sara.Tests.Support;
using Emu = Sara.Bindings.Emulator;

namespace Sara.Tests.Emulator;

[NonParallelizable] // the schedule is process-wide
public sealed class ScheduleTests : EmulatorTestBase
{
    private string _saved = "";

    [SetUp]
    public void SaveSchedule() => _saved = Emu.Schedule();

    [TearDown]
    public void RestoreSchedule() => Assert.That(Emu.SetSchedule(_saved), Is.Zero, Emu.LastError());

    private static int[] Tickets(string schedule, int blocks, int threads)
    {
        Assert.That(Emu.SetSchedule(schedule), Is.Zero, Emu.LastError());
        Emu.SetThreads(1); // blocks one after another: the tickets show the block order as well
        var counter = EmuHost.Pinned(1, 0);
        var tickets = EmuHost.Pinned(blocks * threads, -1);
        EmuHost.Launch("emu_selftest_order", (uint)blocks, (uint)threads, 0, EmuHost.Ptr(counter), EmuHost.Ptr(tickets));
        return tickets;
    }

    [Test]
    public void ForwardReverseAndShuffledOrdersAreWhatTheyClaim()
    {
        const int blocks = 3, threads = 70, total = blocks * threads;
        Assert.That(Tickets("forward", blocks, threads), Is.EqualTo(Enumerable.Range(0, total)));
        Assert.That(Tickets("reverse", blocks, threads), Is.EqualTo(Enumerable.Range(0, total).Select(i => total - 1 - i)));

        var a = Tickets("shuffle:7", blocks, threads);
        Assert.That(a.Order(), Is.EqualTo(Enumerable.Range(0, total)), "a shuffle runs every thread exactly once");
        Assert.That(a, Is.Not.EqualTo(Enumerable.Range(0, total)).And.Not.EqualTo(Tickets("reverse", blocks, threads)));
        Assert.That(Tickets("shuffle:7", blocks, threads), Is.EqualTo(a), "the same seed gives the same order on every run");
        Assert.That(Tickets("shuffle:8", blocks, threads), Is.Not.EqualTo(a), "another seed gives another order");
        var firstBlock = a.Take(threads).Select(t => t / threads).Distinct().ToArray();
        Assert.That(firstBlock, Has.Length.EqualTo(1), "a block's threads run together (one block at a time per worker)");
    }

    [TestCase("forward")]
    [TestCase("reverse")]
    [TestCase("shuffle:123")]
    [TestCase("forward,reverse")]
    [TestCase("reverse,shuffle:5")]
    public void ASpecRoundTrips(string spec)
    {
        Assert.That(Emu.SetSchedule(spec), Is.Zero, Emu.LastError());
        Assert.That(Emu.Schedule(), Is.EqualTo(spec));
    }

    [TestCase("sideways")]
    [TestCase("shuffle:")]
    [TestCase("shuffle:-1")]
    [TestCase("forward,reverse,forward")]
    [TestCase("")]
    public void ABadSpecIsRejectedAndTheScheduleKept(string spec)
    {
        Assert.That(Emu.SetSchedule("reverse"), Is.Zero);
        Assert.That(Emu.SetSchedule(spec), Is.Not.Zero);
        Assert.That(Emu.LastError(), Does.Contain("is not forward, reverse, shuffle:SEED"));
        Assert.That(Emu.Schedule(), Is.EqualTo("reverse"));
    }

    [Test]
    public void TheReplayReportsAGlobalRaceThatOneOrderHides()
    {
        const int threads = 64;
        using var data = new DeviceArray<int>(threads, 0);
        using var outp = new DeviceArray<int>(threads, -7);
        Assert.That(Emu.SetSchedule("forward"), Is.Zero);
        Assert.That(EmuHost.TryLaunch("emu_selftest_neighbour", 1u, (uint)threads, 0, data.Ptr, outp.Ptr), Is.Zero,
            "one order alone cannot see this race");

        Assert.That(Emu.SetSchedule("forward,reverse"), Is.Zero);
        data.Span.Fill(0);
        var before = Emu.Counters().Replayed;
        Assert.That(EmuHost.TryLaunch("emu_selftest_neighbour", 1u, (uint)threads, 0, data.Ptr, outp.Ptr), Is.Not.Zero);
        Assert.That(Emu.LastError(), Does.StartWith("racecheck: kernel emu_selftest_neighbour (1,1,1)x(64,1,1) gives different results " +
            "under schedules forward and reverse: the buffer of parameter 1 `out` differs first at byte 0"));
        Assert.That(Emu.Counters().Replayed, Is.EqualTo(before + 1));
    }

    [Test]
    public void EveryLaunchOfTheBackendIsReplayedAndKeepsItsResult()
    {
        Assert.That(Emu.SetSchedule("forward,shuffle:3"), Is.Zero);
        using var backend = TestDevices.Create("emu");
        var rand = new Rand();
        int rows = 37, cols = 45;
        var x = rand.Normal(rows * cols);
        using var xt = backend.FromArray(x, rows, cols);
        using var sum = backend.Empty(cols);
        var before = Emu.Counters();
        backend.ColumnSum(xt, sum);
        var after = Emu.Counters();
        Assert.That(after.Launches - before.Launches, Is.EqualTo(1UL));
        Assert.That(after.Replayed - before.Replayed, Is.EqualTo(1UL), "a launch on device buffers runs under both schedules");
        Assert.That(Oracle.RelErr(sum.ToArray(), Oracle.ColumnSum(Oracle.D(x), rows, cols)), Is.Not.NaN.And.LessThan(1e-5));
    }

    [Test]
    public void HostMemoryLaunchesRunOnceUnderTheFirstSchedule()
    {
        Assert.That(Emu.SetSchedule("reverse,forward"), Is.Zero);
        var before = Emu.Counters().Replayed;
        var tickets = Tickets("reverse,forward", 1, 40); // pinned host memory: nothing to restore it from, so no replay
        Assert.That(tickets, Is.EqualTo(Enumerable.Range(0, 40).Reverse()));
        Assert.That(Emu.Counters().Replayed, Is.EqualTo(before));
    }
}
