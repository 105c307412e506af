using Sara.Native.Backends;
using Sara.Native.Tensors;
using Sara.Tests.Support;

namespace Sara.Tests.Interop;

/// <summary>
/// External tensors (Backend.FromExternal): ops read and write the caller's memory in place, the library's pool never
/// sees it, Dispose lets go without freeing, and bad descriptions are refused with one clear message.
/// </summary>
public class ExternalTensorTests
{
    [TestCaseSource(typeof(TestDevices), nameof(TestDevices.Emulated))]
    public void Ops_read_and_write_the_callers_memory_in_place_and_the_pool_never_sees_it(string device)
    {
        using var backend = TestDevices.Create(device);
        using var mem = new HostBuffers();
        var r = new Rand();
        const int m = 7, k = 5, n = 9;
        float[] a = r.Normal(m * k), b = r.Normal(k * n);
        var before = backend.Memory;
        using var ta = mem.Tensor(backend, a, m, k);
        using var tb = mem.Tensor(backend, b, k, n);
        using var tc = mem.Tensor(backend, null, m, n);   // NaN-poisoned: the GEMM must overwrite every element
        Assert.That(backend.Memory, Is.EqualTo(before), "wrapping caller memory rents nothing from the pool");
        Assert.That(tc.IsExternal && ta.IsExternal, Is.True);

        backend.Gemm(ta, false, tb, false, tc);
        backend.Synchronize();
        var want = Oracle.MatMul(Oracle.D(a), m, k, false, Oracle.D(b), k, n, false);
        var direct = HostBuffers.Read(tc);   // read from the caller's memory itself, not through the library
        Assert.That(Oracle.RelErr(direct, want), Is.Not.NaN.And.LessThan(1e-5), "GEMM result in the caller's buffer");
        Assert.That(tc.ToArray(), Is.EqualTo(direct), "the library reads the same memory");
    }

    [TestCaseSource(typeof(TestDevices), nameof(TestDevices.Emulated))]
    public void Dispose_lets_go_without_freeing_and_runs_the_release_callback_once(string device)
    {
        using var backend = TestDevices.Create(device);
        using var mem = new HostBuffers();
        var p = mem.Alloc(6);
        var released = 0;
        var (t, weak) = WrapWithOwner(backend, p, () => released++);
        backend.Fill(t, 2.5f);
        backend.Synchronize();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.That(weak.IsAlive, Is.True, "the owner is kept alive while the tensor lives");
        GC.KeepAlive(t);

        t.Dispose();
        t.Dispose();
        Assert.That(released, Is.EqualTo(1), "the release callback runs exactly once");
        Assert.That(t.IsDisposed, Is.True);
        Assert.Throws<ObjectDisposedException>(() => _ = t.Ptr);
        Assert.That(mem.Frees, Is.Zero);
        Assert.That(HostBuffers.Read(p, 6), Is.All.EqualTo(2.5f), "the caller's memory is intact after Dispose");
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.That(weak.IsAlive, Is.False, "Dispose dropped the owner");
    }

    /// <summary>In its own frame, so no local or JIT temporary of the test keeps the owner alive.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static (Tensor, WeakReference) WrapWithOwner(Backend backend, nint p, Action onRelease)
    {
        var owner = new object();
        return (backend.FromExternal(p, DType.F32, [2, 3], owner: owner, onRelease: onRelease), new WeakReference(owner));
    }

    [Test]
    public void A_scope_disposes_external_tensors_made_in_it_and_the_memory_survives()
    {
        using var backend = TestDevices.Create("cpu");
        using var mem = new HostBuffers();
        var released = 0;
        var p = mem.Alloc(4);
        using (new TensorScope())
        {
            var t = backend.FromExternal(p, DType.F32, [4], onRelease: () => released++);
            backend.Fill(t, 1f);
        }
        Assert.That(released, Is.EqualTo(1));
        Assert.That(HostBuffers.Read(p, 4), Is.All.EqualTo(1f));
    }

    [TestCaseSource(typeof(TestDevices), nameof(TestDevices.Emulated))]
    public void The_emulated_runtime_disposed_with_external_tensors_alive_leaves_their_memory_alone(string device)
    {
        using var mem = new HostBuffers();
        var p = mem.Alloc(8);
        var backend = TestDevices.Create(device);
        var t = backend.FromExternal(p, DType.F32, [8]);
        backend.Fill(t, 3f);
        backend.Dispose();   // the emulator releases its context's memory here: never the caller's
        Assert.That(HostBuffers.Read(p, 8), Is.All.EqualTo(3f));
        t.Dispose();
    }

    [Test]
    public void Bad_descriptions_are_refused_with_one_clear_message()
    {
        using var backend = TestDevices.Create("cpu");
        using var mem = new HostBuffers();
        var p = mem.Alloc(64);
        var e = Assert.Throws<ArgumentException>(() => backend.FromExternal(p, DType.F32, [4, 8], rowStride: 10));
        Assert.That(e!.Message, Does.Contain("row stride 10").And.Contain("only dense rows"));
        e = Assert.Throws<ArgumentException>(() => backend.FromExternal(p + 2, DType.F32, [4]));
        Assert.That(e!.Message, Does.Contain("not aligned to 4 bytes"));
        e = Assert.Throws<ArgumentException>(() => backend.FromExternal(0, DType.F32, [4]));
        Assert.That(e!.Message, Does.Contain("null pointer"));
        Assert.Throws<ArgumentException>(() => backend.FromExternal(p, DType.F32, [2, 2, 2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.FromExternal(p, DType.F32, [-1, 2]));
        Assert.DoesNotThrow(() => backend.FromExternal(p + 2, DType.BF16, [4]).Dispose(), "bf16 needs 2-byte alignment only");
        Assert.DoesNotThrow(() => backend.FromExternal(p, DType.F32, [4, 8], rowStride: 8).Dispose(), "a dense stride is accepted");
        Assert.That(mem.Frees, Is.Zero);
    }

    [Test]
    public void A_tensor_of_another_backend_is_refused_by_ops()
    {
        using var cpu = TestDevices.Create("cpu");
        using var emu = TestDevices.Create("emu");
        using var mem = new HostBuffers();
        using var t = cpu.FromExternal(mem.Alloc(4), DType.F32, [4]);
        var e = Assert.Throws<ArgumentException>(() => emu.Fill(t, 0f));
        Assert.That(e!.Message, Does.Contain("lives on backend 'cpu'"));
    }
}
