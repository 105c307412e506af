using System.Runtime.InteropServices;
using Sara.Native.Runtime;

namespace Sara.Native.Tensors;

/// <summary>
/// Owns one block of backend memory rented from a <see cref="MemoryPool"/>; disposing (or, as a last resort, the finalizer)
/// returns it to the pool. SafeHandle keeps the pointer alive across native calls.
/// </summary>
public sealed class DeviceBuffer : SafeHandle
{
    private readonly MemoryPool _pool;
    private readonly long _sizeClass;

    public DeviceBuffer(MemoryPool pool, long bytes) : base(0, ownsHandle: true)
    {
        _pool = pool;
        Bytes = bytes;
        SetHandle(pool.Rent(bytes, out _sizeClass));
    }

    public long Bytes { get; }

    public override bool IsInvalid => handle == 0;

    /// <summary>The raw pointer; throws when the buffer was disposed.</summary>
    public nint Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return handle;
        }
    }

    protected override bool ReleaseHandle()
    {
        _pool.Return(handle, _sizeClass);
        return true;
    }
}
