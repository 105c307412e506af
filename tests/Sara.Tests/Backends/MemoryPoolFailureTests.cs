using Sara.Bindings;
using Sara.Native.Backends;
using Sara.Native.Runtime;

namespace Sara.Tests.Backends;

/// <summary>
/// The pool when the raw allocator fails: out-of-memory trims the cached blocks and retries once, and every failure leaves
/// the statistics as they were. Seams: a fake device allocator with a budget, and the emulated runtime's MemoryLimit
/// (cuMemAlloc's CUDA_ERROR_OUT_OF_MEMORY through a real backend).
/// </summary>
public class MemoryPoolFailureTests
{
    private const long MiB = 1L << 20;

    /// <summary>A device with <paramref name="limit"/> bytes: allocations past it fail as cuMemAlloc does.</summary>
    private sealed class FakeDevice(long limit)
    {
        private readonly Dictionary<nint, long> _live = new();
        private nint _next = 0x10000;

        public long LiveBytes => _live.Values.Sum();
        public int Frees { get; private set; }
        public Func<long, Exception?> FailNext { get; set; } = _ => null;

        public nint Alloc(long bytes)
        {
            if (FailNext(bytes) is { } e) throw e;
            if (LiveBytes + bytes > limit)
                throw new NativeCallException("cuMemAlloc_v2", "CUDA_ERROR_OUT_OF_MEMORY", (int)CUresult.CUDA_ERROR_OUT_OF_MEMORY, $"{bytes} bytes");
            var p = _next;
            _next += (nint)bytes;
            _live[p] = bytes;
            return p;
        }

        public void Free(nint p)
        {
            Frees++;
            if (!_live.Remove(p)) throw new NativeCallException("cuMemFree_v2", "CUDA_ERROR_INVALID_VALUE", 1);
        }
    }

    [Test]
    public void Out_of_memory_trims_the_cached_blocks_and_retries_with_the_statistics_right()
    {
        var device = new FakeDevice(3 * MiB);
        using var pool = new MemoryPool(device.Alloc, device.Free);
        var a = pool.Rent(MiB, out var ca);
        var b = pool.Rent(MiB, out var cb);
        pool.Return(a, ca);
        pool.Return(b, cb);
        Assert.That(pool.Stats, Is.EqualTo(new MemoryStats(0, 2 * MiB, 2 * MiB, 2)), "two 1 MiB blocks cached");

        // 2 MiB more does not fit beside the 2 MiB cached: the pool gives the cache back and the retry succeeds.
        var c = pool.Rent(2 * MiB, out var cc);
        Assert.That(cc, Is.EqualTo(2 * MiB));
        Assert.That(pool.Stats, Is.EqualTo(new MemoryStats(2 * MiB, 2 * MiB, 2 * MiB, 3)), "the cache was released, the new block counted once");
        Assert.That(device.LiveBytes, Is.EqualTo(2 * MiB));
        Assert.That(device.Frees, Is.EqualTo(2));

        // Nothing cached: the out-of-memory propagates as the allocator threw it, nothing counted.
        var none = Assert.Throws<NativeCallException>(() => pool.Rent(2 * MiB, out _));
        Assert.That(none!.StatusName, Is.EqualTo("CUDA_ERROR_OUT_OF_MEMORY"));
        Assert.That(pool.Stats, Is.EqualTo(new MemoryStats(2 * MiB, 2 * MiB, 2 * MiB, 3)));

        // Trimming helps but not enough: the second failure names what was released, the statistics stay as they were.
        var d = pool.Rent(MiB, out var cd);
        pool.Return(d, cd);
        var before = pool.Stats;
        var e = Assert.Throws<NativeCallException>(() => pool.Rent(4 * MiB, out _));
        Assert.That(e!.Call, Is.EqualTo("cuMemAlloc_v2"));
        Assert.That(e.Message, Does.Contain($"{4 * MiB} bytes after releasing {MiB} cached bytes and retrying; {2 * MiB} bytes in use"));
        Assert.That(pool.Stats, Is.EqualTo(before with { BytesReserved = 2 * MiB }), "only the trimmed block left the reserve");
        pool.Return(c, cc);
    }

    [Test]
    public void Any_other_allocation_failure_leaves_the_pool_and_its_statistics_untouched()
    {
        var device = new FakeDevice(64 * MiB);
        using var pool = new MemoryPool(device.Alloc, device.Free);
        var a = pool.Rent(1000, out var ca);
        pool.Return(a, ca);
        var before = pool.Stats;
        device.FailNext = _ => new NativeCallException("cuMemAlloc_v2", "CUDA_ERROR_INVALID_VALUE", 1);
        Assert.Throws<NativeCallException>(() => pool.Rent(5000, out _));
        Assert.That(pool.Stats, Is.EqualTo(before), "a failed allocation is not counted as in use or reserved");
        Assert.That(device.Frees, Is.Zero, "no trim for a failure that is not out-of-memory");
        device.FailNext = _ => null;
        Assert.That(pool.Rent(700, out _), Is.EqualTo(a), "the cached block is still there");
    }

    [Test]
    public void Trim_goes_on_past_a_failing_free_and_throws_the_first_failure()
    {
        var device = new FakeDevice(64 * MiB);
        using var pool = new MemoryPool(device.Alloc, device.Free);
        var good = pool.Rent(1000, out var c1);
        pool.Return(good, c1);
        pool.Return(0x7777, 4096);   // a block the device does not know: its free fails
        var e = Assert.Throws<NativeCallException>(() => pool.Trim());
        Assert.That(e!.StatusName, Is.EqualTo("CUDA_ERROR_INVALID_VALUE"));
        Assert.That(device.LiveBytes, Is.Zero, "the good block was freed all the same");
        Assert.That(device.Frees, Is.EqualTo(2));
        Assert.That(pool.Trim(), Is.Zero, "both blocks left the pool");
    }

    [Test]
    public void A_backend_on_the_emulated_runtime_survives_out_of_memory_by_trimming()
    {
        using var backend = (CudaBackend)Devices.Create("emu");
        var emu = (EmulatedRuntime)backend.Runtime;
        emu.MemoryLimit = emu.LiveBytes + 3 * MiB;
        var a = backend.Empty(256, 1024);   // 1 MiB each
        var b = backend.Empty(256, 1024);
        a.Dispose();
        b.Dispose();
        using var big = backend.Empty(512, 1024);   // 2 MiB: fits only once the two cached blocks are gone
        backend.Fill(big, 3f);
        Assert.That(big.ToArray(), Is.All.EqualTo(3f));
        Assert.That(backend.Memory.BytesInUse, Is.EqualTo(2 * MiB));
        Assert.That(backend.Memory.BytesReserved, Is.EqualTo(2 * MiB));
        Assert.That(emu.LiveBytes, Is.EqualTo(2 * MiB));

        var before = backend.Memory;
        var e = Assert.Throws<NativeCallException>(() => backend.Empty(512, 1024));
        Assert.That(e!.StatusName, Is.EqualTo("CUDA_ERROR_OUT_OF_MEMORY"));
        Assert.That(backend.Memory, Is.EqualTo(before));
    }
}
