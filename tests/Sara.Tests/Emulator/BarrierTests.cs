// __syncthreads on the emulator: threads that returned leave the barrier; the barrier really waits (its speed is printed,
// not asserted: a shared runner's wall clock says nothing about the code).
using System.Diagnostics;
using Sara.Native.Runtime;

namespace Sara.Tests.Emulator;

public sealed class BarrierTests : EmulatorTestBase
{
    // Thread t survives ((n-1-t) % 4) + 1 rounds (kernels/emu/selftest.cu, emu_selftest_barrier_exit).
    private static long ExpectedBarrierExit(int block, int t, int n)
    {
        var rounds = (n - 1 - t) % 4 + 1;
        long acc = 0;
        for (var r = 0; r < rounds; r++) acc += (r + 1) * 1000000L + block * 1000L + (t + 4) % n;
        return acc;
    }

    [TestCase(256, 6, 0)]
    [TestCase(100, 5, 1)]
    [TestCase(1024, 3, 4)]
    public void SyncthreadsWithThreadsThatReturnedEarly(int n, int blocks, int workers)
    {
        Sara.Bindings.Emulator.SetThreads(workers);
        var outp = EmuHost.Pinned(n * blocks, int.MinValue);
        EmuHost.Launch("emu_selftest_barrier_exit", (uint)blocks, (uint)n, 0, EmuHost.Ptr(outp));
        var wrong = 0;
        for (var b = 0; b < blocks; b++)
            for (var t = 0; t < n; t++)
                if (outp[b * n + t] != ExpectedBarrierExit(b, t, n)) wrong++;
        Assert.That(wrong, Is.Zero, $"{wrong} of {n * blocks} threads read a value their partner had not written for that round");
    }

    [Test]
    public void ThousandBarriersOf256ThreadsStayInStep()
    {
        const int n = 256, iters = 500; // 2 barriers per iteration
        var outp = EmuHost.Pinned(n, int.MinValue);
        EmuHost.Launch("emu_selftest_barrier_loop", 1u, (uint)n, 0, EmuHost.Ptr(outp), iters); // warm: stacks, pages
        Array.Fill(outp, int.MinValue);
        var sw = Stopwatch.StartNew();
        EmuHost.Launch("emu_selftest_barrier_loop", 1u, (uint)n, 0, EmuHost.Ptr(outp), iters);
        sw.Stop();
        for (var t = 0; t < n; t++)
        {
            long expected = 0;
            for (var i = 0; i < iters; i++) expected += i + (t + 1) % n;
            Assert.That(outp[t], Is.EqualTo(expected), $"thread {t}");
        }
        var ms = sw.Elapsed.TotalMilliseconds;
        // A report, not a check (design target: well under 100 ms on an idle machine).
        TestContext.Out.WriteLine($"256 threads x {2 * iters} barriers: {ms:F2} ms = {ms * 1e6 / (2.0 * iters * n):F1} ns per thread per barrier");
    }

    [Test]
    public void DeadlockIsReportedAndTheNextLaunchWorks()
    {
        var outp = EmuHost.Pinned(64, int.MinValue);
        var rc = EmuHost.TryLaunch(EmuHost.Function("emu_selftest_deadlock"), 1u, 2u, 0, EmuHost.Ptr(outp));
        Assert.That(rc, Is.Not.Zero);
        Assert.That(Sara.Bindings.Emulator.LastError(), Does.Contain("deadlock"));
        EmuHost.Launch("emu_selftest_trap", 2u, 32u, 0, EmuHost.Ptr(outp), -1);
        Assert.That(outp, Is.EqualTo(Enumerable.Range(0, 64).ToArray()));
    }

    [Test]
    public void TrapFailsTheLaunchWithTheThreadNamed()
    {
        var outp = EmuHost.Pinned(128, int.MinValue);
        var rc = EmuHost.TryLaunch(EmuHost.Function("emu_selftest_trap"), new Dim3(2, 2), 32u, 0, EmuHost.Ptr(outp), 77);
        Assert.That(rc, Is.Not.Zero);
        Assert.That(Sara.Bindings.Emulator.LastError(), Does.Contain("__trap").And.Contain("block (0,1,0) thread (13,0,0)"));
    }
}
