namespace Sara.Native.Tensors;

/// <summary>
/// The storage of an external tensor: a pointer into memory the caller owns, the object that keeps that memory alive
/// and an optional callback run exactly once when the memory is let go (a DLPack deleter, a pinned handle's Free).
/// The memory is let go when the tensor is disposed and every <see cref="Retain"/> (a DLPack export) has been released.
/// The library never frees, pools or reallocates this memory.
/// </summary>
internal sealed class ExternalStorage
{
    private readonly nint _pointer;
    private object? _owner;
    private Action? _onRelease;
    private int _disposed, _refs = 1;

    public ExternalStorage(nint pointer, object? owner, Action? onRelease)
    {
        _pointer = pointer;
        _owner = owner;
        _onRelease = onRelease;
    }

    /// <summary>True once the tensor was disposed (its pointer is then refused, even while an export still holds the memory).</summary>
    public bool IsReleased => Volatile.Read(ref _disposed) != 0;

    public nint Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsReleased, typeof(Tensor));
            return _pointer;
        }
    }

    /// <summary>The tensor's Dispose: the first call gives up the tensor's hold; later calls do nothing.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Drop();
    }

    /// <summary>One more hold on the memory (released by <see cref="Drop"/>); the tensor must not be disposed yet.</summary>
    public void Retain()
    {
        ObjectDisposedException.ThrowIf(IsReleased, typeof(Tensor));
        Interlocked.Increment(ref _refs);
    }

    /// <summary>Gives up one hold; the last one drops the owner and runs the callback.</summary>
    public void Drop()
    {
        if (Interlocked.Decrement(ref _refs) != 0) return;
        var callback = _onRelease;
        _onRelease = null;
        _owner = null;
        callback?.Invoke();
    }
}
