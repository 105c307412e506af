using Sara.Bindings;
using Sara.Native.Backends;
using Sara.Native.Runtime;

namespace Sara.Tests.Backends;

/// <summary>
/// Disposing a backend after a sticky device fault: everything is released, the exception that reported the fault is the
/// one the caller sees, and a late tensor release is harmless. Seam: the emulated runtime's InjectFault, which makes every
/// later call fail as a GPU context does after a stray write. Without a fault, a failed release is thrown, after the rest.
/// </summary>
public class FaultedDisposeTests
{
    [Test]
    public void The_original_exception_survives_dispose_after_a_sticky_fault_and_everything_is_released()
    {
        var emu = new EmulatedRuntime();
        var backend = new CudaBackend(emu);
        var live = backend.Zeros(1000);
        backend.Zeros(5000).Dispose();   // a cached block in the pool
        Assert.That(emu.LiveAllocations, Is.EqualTo(2));

        var original = Assert.Throws<NativeCallException>(() =>
        {
            using (backend)
            {
                emu.InjectFault();
                backend.Fill(live, 1f);   // the first call after the fault reports it; Dispose runs while it unwinds
            }
        });
        Assert.That(original!.StatusName, Is.EqualTo("CUDA_ERROR_ILLEGAL_ADDRESS"));
        Assert.That(original.Call, Is.EqualTo("cuMemsetD32Async"));
        Assert.That(emu.Fault, Is.SameAs(original), "the runtime remembers the first fault");
        Assert.That(emu.LiveAllocations, Is.Zero, "the cached block and the live tensor's block went with the context");
        Assert.That(emu.LiveBytes, Is.Zero);
        Assert.DoesNotThrow(live.Dispose, "a tensor released after its backend");
        Assert.DoesNotThrow(backend.Dispose, "Dispose is idempotent");
        Assert.Throws<ObjectDisposedException>(() => backend.Zeros(1));
    }

    [Test]
    public void Without_a_fault_a_failed_release_is_thrown_after_everything_else_is_released()
    {
        var emu = new EmulatedRuntime();
        var backend = new CudaBackend(emu);
        backend.Zeros(100).Dispose();
        emu.Pool.Return(0x1234, 256);   // a block this runtime never allocated: its free fails
        var e = Assert.Throws<NativeCallException>(backend.Dispose);
        Assert.That(e!.Call, Is.EqualTo("cuMemFree_v2"));
        Assert.That(emu.Fault, Is.Null);
        Assert.That(emu.LiveAllocations, Is.Zero, "the good block was released all the same");
        Assert.DoesNotThrow(backend.Dispose);
    }

    [Test]
    public void A_fault_first_met_by_dispose_is_thrown_and_everything_is_still_released()
    {
        var emu = new EmulatedRuntime();
        var backend = new CudaBackend(emu);
        backend.Zeros(100).Dispose();
        emu.InjectFault(CUresult.CUDA_ERROR_LAUNCH_FAILED);   // e.g. an asynchronous kernel failure nobody synchronised on
        var e = Assert.Throws<NativeCallException>(backend.Dispose);
        Assert.That(e!.StatusName, Is.EqualTo("CUDA_ERROR_LAUNCH_FAILED"), "no caller had seen it: Dispose must not swallow it");
        Assert.That(emu.LiveAllocations, Is.Zero);
    }

    [Test]
    public void Only_sticky_errors_can_be_injected()
    {
        using var emu = new EmulatedRuntime();
        Assert.Throws<ArgumentException>(() => emu.InjectFault(CUresult.CUDA_ERROR_OUT_OF_MEMORY));
        Assert.That(Cuda.IsSticky(CUresult.CUDA_ERROR_LAUNCH_FAILED), Is.True);
        Assert.That(Cuda.IsSticky(CUresult.CUDA_ERROR_INVALID_VALUE), Is.False);
    }
}
