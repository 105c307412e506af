namespace Sara.Native.Runtime;

/// <summary>
/// Caching allocator: freed blocks go back to a free list by size class and are reused, so a training step
/// does not call the raw allocator (cuMemAlloc on the GPU) once the first step has warmed the pool.
/// Size classes: powers of two up to 4 MiB, then multiples of 2 MiB. Thread-safe (buffers may be released by finalizers).
/// Without caching (the emulator's sanitizer mode) every block has exactly the size asked for and is freed on return.
/// </summary>
public sealed class MemoryPool : IDisposable
{
    private const long SmallLimit = 4L << 20, LargeQuantum = 2L << 20, MinBlock = 256;
    private readonly Func<long, nint> _alloc;
    private readonly Action<nint> _free;
    private readonly Dictionary<long, Stack<nint>> _freeBlocks = new();
    private readonly object _gate = new();
    private long _inUse, _reserved, _peak, _rawAllocations;
    private readonly bool _caching;
    private bool _disposed;

    public MemoryPool(Func<long, nint> alloc, Action<nint> free, bool caching = true)
    {
        _alloc = alloc;
        _free = free;
        _caching = caching;
    }

    public MemoryStats Stats
    {
        get { lock (_gate) return new MemoryStats(_inUse, _reserved, _peak, _rawAllocations); }
    }

    public static long SizeClass(long bytes)
    {
        if (bytes <= MinBlock) return MinBlock;
        if (bytes <= SmallLimit) return (long)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)bytes);
        return (bytes + LargeQuantum - 1) / LargeQuantum * LargeQuantum;
    }

    /// <summary>Returns a block of at least <paramref name="bytes"/>; its size class is what Return expects.</summary>
    public nint Rent(long bytes, out long sizeClass)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        sizeClass = _caching ? SizeClass(bytes) : bytes;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _inUse += sizeClass;
            _peak = Math.Max(_peak, _inUse);
            if (_freeBlocks.TryGetValue(sizeClass, out var stack) && stack.Count > 0) return stack.Pop();
            _rawAllocations++;
            _reserved += sizeClass;
        }
        return _alloc(sizeClass);
    }

    public void Return(nint ptr, long sizeClass)
    {
        lock (_gate)
        {
            _inUse -= sizeClass;
            if (_disposed || !_caching)
            {
                // A tensor outlived its backend (late Dispose or finalizer). Free the block directly; when the runtime
                // itself is gone (a GPU context releases all of its memory with it) there is nothing left to free.
                try { _free(ptr); }
                catch (ObjectDisposedException) { }
                if (!_caching) _reserved -= sizeClass;
                return;
            }
            if (!_freeBlocks.TryGetValue(sizeClass, out var stack)) _freeBlocks[sizeClass] = stack = new Stack<nint>();
            stack.Push(ptr);
        }
    }

    /// <summary>Releases every cached (unused) block to the raw allocator.</summary>
    public void Trim()
    {
        lock (_gate)
        {
            foreach (var (size, stack) in _freeBlocks)
                while (stack.Count > 0) { _free(stack.Pop()); _reserved -= size; }
        }
    }

    public void Dispose()
    {
        Trim();
        lock (_gate) _disposed = true;
    }
}
