using Sara.Native.Runtime;
using Sara.Native.Tensors;
using Sara.Tests.Support;

namespace Sara.Tests.Backends;

/// <summary>The caching allocator and deterministic release of tensors.</summary>
public class MemoryAndScopeTests
{
    [Test]
    public void ThePoolReusesFreedBlocksBySizeClassAndTrimReleasesThem()
    {
        var live = new HashSet<nint>();
        using var pool = new MemoryPool(b => { var p = HostMemory.Alloc(b); live.Add(p); return p; }, p => { live.Remove(p); HostMemory.Free(p); });
        var a = pool.Rent(1000, out var classA);
        Assert.That(classA, Is.EqualTo(1024));
        pool.Return(a, classA);
        var b = pool.Rent(700, out var classB);
        Assert.That((b, classB), Is.EqualTo((a, 1024L)), "same size class: the cached block comes back");
        var c = pool.Rent(5L << 20, out var classC);
        Assert.That(classC, Is.EqualTo(6L << 20), "large blocks round up to 2 MiB multiples");
        Assert.That(pool.Stats.RawAllocations, Is.EqualTo(2));
        Assert.That(pool.Stats.BytesInUse, Is.EqualTo(1024 + (6L << 20)));
        pool.Return(b, classB);
        pool.Return(c, classC);
        Assert.That(pool.Stats.BytesInUse, Is.Zero);
        pool.Trim();
        Assert.That(live, Is.Empty, "Trim hands every cached block back");
        Assert.That(pool.Stats.BytesReserved, Is.Zero);
    }

    [Test]
    public void AScopeDisposesWhatItMadeExceptWhatItKeepsAndSuspendedAllocations()
    {
        using var backend = TestDevices.Create("cpu");
        Tensor made, kept, outside;
        using (var scope = new TensorScope())
        {
            made = backend.Zeros(3);
            kept = scope.Keep(backend.Zeros(4));
            using (TensorScope.Suspend()) outside = backend.Zeros(5);
            Assert.That(TensorScope.Current, Is.SameAs(scope), "Suspend restores the scope");
        }
        Assert.That(made.IsDisposed, Is.True);
        Assert.That(kept.IsDisposed, Is.False);
        Assert.That(outside.IsDisposed, Is.False);
        Assert.That(TensorScope.Current, Is.Null);
        kept.Dispose();
        outside.Dispose();
        Assert.That(backend.Memory.BytesInUse, Is.Zero, "every tensor returned its block");
        var e = Assert.Throws<ObjectDisposedException>(() => _ = made.Ptr);
        Assert.That(e, Is.Not.Null);
    }

    [Test]
    public void NestedScopesHandKeptTensorsToTheirParent()
    {
        using var backend = TestDevices.Create("cpu");
        Tensor inner;
        using (new TensorScope())
        {
            using (var child = new TensorScope()) inner = child.Keep(backend.Zeros(2));
            Assert.That(inner.IsDisposed, Is.False, "kept by the child, now owned by the parent");
        }
        Assert.That(inner.IsDisposed, Is.True, "the parent scope disposed it");
    }

    [Test]
    public void ATensorThatOutlivesItsBackendReleasesWithoutError()
    {
        var backend = TestDevices.Create("emu");
        var survivor = backend.Zeros(16);
        backend.Dispose();
        Assert.DoesNotThrow(survivor.Dispose);
    }
}
