// __shared__ (static and dynamic) is private to each block while blocks run concurrently; atomics are atomic.
using Sara.Native.Runtime;
using Sara.Tests.Support;
using Emu = Sara.Bindings.Emulator;

namespace Sara.Tests.Emulator;

public sealed class SharedAndAtomicTests : EmulatorTestBase
{
    [TestCase(8, 128)]
    [TestCase(4, 1024)]
    public void SharedMemoryIsPrivateToEachConcurrentBlock(int workers, int threads)
    {
        Emu.SetThreads(workers); // more workers than cores: blocks overlap even on a 2-core machine
        var grid = new Dim3(16, 24);
        var blocks = (int)(grid.X * grid.Y);
        var flags = EmuHost.Pinned(blocks, int.MinValue);
        EmuHost.Launch("emu_selftest_shared_private", grid, (uint)threads, (uint)(threads * sizeof(int)), EmuHost.Ptr(flags), 200);
        var bad = Enumerable.Range(0, blocks).Where(b => flags[b] != b + 1).ToArray();
        Assert.That(bad, Is.Empty, () => $"blocks that saw another block's shared values: {string.Join(", ", bad.Take(10).Select(b => $"{b}:{flags[b]}"))}");
    }

    [Test]
    public void AtomicAddAndMaxUnderContention()
    {
        Emu.SetThreads(8);
        const int blocks = 128, threads = 256, iters = 8, total = blocks * threads;
        var rand = new Rand();
        var vals = EmuHost.Pinned(total, 0f);
        var ivals = EmuHost.Pinned(total, 0);
        var src = rand.Uniform(total, 0.5, 1.5); // positive: the float sum is well conditioned
        for (var i = 0; i < total; i++)
        {
            vals[i] = src[i];
            ivals[i] = rand.Int(-1_000_000_000, 1_000_000_000);
        }
        var icount = EmuHost.Pinned(1, 0);
        var fones = EmuHost.Pinned(1, 0f);
        var fsum = EmuHost.Pinned(1, 0f);
        var imax = EmuHost.Pinned(1, int.MinValue);
        EmuHost.Launch("emu_selftest_atomics", (uint)blocks, (uint)threads, 0,
            EmuHost.Ptr(icount), EmuHost.Ptr(fones), EmuHost.Ptr(fsum), EmuHost.Ptr(imax), EmuHost.Ptr(vals), EmuHost.Ptr(ivals), iters);

        Assert.That(icount[0], Is.EqualTo(total * iters), "int atomicAdd lost updates");
        Assert.That(fones[0], Is.EqualTo((float)(total * iters)), "float atomicAdd of 1.0f is exact below 2^24");
        var reference = vals.Sum(v => (double)v);
        Assert.That(Math.Abs(fsum[0] - reference) / reference, Is.Not.NaN.And.LessThan(1e-4), "float atomicAdd of random values vs float64 sum");
        Assert.That(imax[0], Is.EqualTo(ivals.Max()), "int atomicMax");
    }
}
