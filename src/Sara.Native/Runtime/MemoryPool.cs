using Sara.Bindings;

namespace Sara.Native.Runtime;

/// <summary>
/// Caching allocator: freed blocks go back to a free list by size class and are reused, so a training step
/// does not call the raw allocator (cuMemAlloc on the GPU) once the first step has warmed the pool.
/// Size classes: powers of two up to 4 MiB, then multiples of 2 MiB. Thread-safe (buffers may be released by finalizers).
/// A block counts as in use and reserved only once the raw allocator returned it. When the raw allocator runs out of
/// memory, the pool releases every cached block (<see cref="Trim"/>) and tries once more; a second failure propagates,
/// naming what was released, with the statistics as they were.
/// Blocks are reused in the order of the runtime's one stream, so a block freed by work still queued there is safe to hand out.
/// </summary>
public sealed class MemoryPool : IDisposable
{
    private const long SmallLimit = 4L << 20, LargeQuantum = 2L << 20, MinBlock = 256;
    private readonly Func<long, nint> _alloc;
    private readonly Action<nint> _free;
    private readonly Dictionary<long, Stack<nint>> _freeBlocks = new();
    private readonly object _gate = new();
    private long _inUse, _reserved, _peak, _rawAllocations;
    private bool _disposed;

    public MemoryPool(Func<long, nint> alloc, Action<nint> free)
    {
        _alloc = alloc;
        _free = free;
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

    /// <summary>An out-of-memory from a raw allocator: cuMemAlloc's CUDA_ERROR_OUT_OF_MEMORY or the host's OutOfMemoryException.</summary>
    public static bool IsOutOfMemory(Exception e) =>
        e is OutOfMemoryException || e is NativeCallException { Code: (int)CUresult.CUDA_ERROR_OUT_OF_MEMORY };

    /// <summary>Returns a block of at least <paramref name="bytes"/>; its size class is what Return expects.</summary>
    public nint Rent(long bytes, out long sizeClass)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        sizeClass = SizeClass(bytes);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_freeBlocks.TryGetValue(sizeClass, out var stack) && stack.Count > 0)
            {
                Count(sizeClass, raw: false);
                return stack.Pop();
            }
        }
        var p = AllocRaw(sizeClass);
        lock (_gate)
        {
            if (!_disposed)
            {
                Count(sizeClass, raw: true);
                return p;
            }
        }
        _free(p);   // disposed while allocating
        throw new ObjectDisposedException(nameof(MemoryPool));
    }

    private void Count(long sizeClass, bool raw)
    {
        _inUse += sizeClass;
        _peak = Math.Max(_peak, _inUse);
        if (!raw) return;
        _rawAllocations++;
        _reserved += sizeClass;
    }

    /// <summary>The raw allocation; on out-of-memory, trims the cached blocks and tries once more.</summary>
    private nint AllocRaw(long sizeClass)
    {
        try
        {
            return _alloc(sizeClass);
        }
        catch (Exception first) when (IsOutOfMemory(first))
        {
            var released = Trim();
            if (released == 0) throw;
            try
            {
                return _alloc(sizeClass);
            }
            catch (Exception second) when (IsOutOfMemory(second))
            {
                var stats = Stats;
                var detail = $"{sizeClass} bytes after releasing {released} cached bytes and retrying; " +
                             $"{stats.BytesInUse} bytes in use by live tensors";
                throw second is NativeCallException n
                    ? new NativeCallException(n.Call, n.StatusName, n.Code, detail)
                    : new OutOfMemoryException("Out of memory: " + detail, second);
            }
        }
    }

    public void Return(nint ptr, long sizeClass)
    {
        lock (_gate)
        {
            _inUse -= sizeClass;
            if (_disposed)
            {
                // A tensor outlived its backend (late Dispose or finalizer). Free the block directly; when the runtime
                // itself is gone (a GPU context releases all of its memory with it) there is nothing left to free.
                _reserved -= sizeClass;
                try { _free(ptr); }
                catch (ObjectDisposedException) { }
                return;
            }
            if (!_freeBlocks.TryGetValue(sizeClass, out var stack)) _freeBlocks[sizeClass] = stack = new Stack<nint>();
            stack.Push(ptr);
        }
    }

    /// <summary>
    /// Releases every cached (unused) block to the raw allocator and returns the bytes released. Goes on past a failing
    /// free (after a sticky GPU fault every free fails; the context's release takes the memory) and throws the first
    /// failure at the end; the failed blocks are dropped from the pool either way.
    /// </summary>
    public long Trim()
    {
        Exception? first = null;
        long released = 0;
        lock (_gate)
        {
            foreach (var (size, stack) in _freeBlocks)
                while (stack.Count > 0)
                {
                    var p = stack.Pop();
                    _reserved -= size;
                    released += size;
                    try { _free(p); }
                    catch (Exception e) { first ??= e; }
                }
        }
        if (first != null) throw first;
        return released;
    }

    /// <summary>Trims and refuses further rentals; blocks still in use are freed when returned. Idempotent.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        Trim();
    }
}
