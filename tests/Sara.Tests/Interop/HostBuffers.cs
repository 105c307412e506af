using System.Runtime.InteropServices;
using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Tests.Interop;

/// <summary>
/// A trainer's own allocator for the interop tests: aligned host memory (what cpu and emu use as device memory),
/// NaN-poisoned, counting allocations and frees. Only <see cref="Dispose"/> frees; a test that finds
/// <see cref="Frees"/> at zero while the library held the memory knows the library freed nothing.
/// </summary>
public sealed unsafe class HostBuffers : IDisposable
{
    private readonly List<(nint Ptr, long Bytes)> _blocks = new();

    public int Allocations => _blocks.Count;
    public int Frees { get; private set; }

    /// <summary>Bytes of <paramref name="count"/> elements of 4 bytes, NaN-filled, aligned to <paramref name="alignment"/>.</summary>
    public nint Alloc(long count, int alignment = 64)
    {
        var bytes = Math.Max(4 * count, 4);
        var p = (nint)NativeMemory.AlignedAlloc((nuint)bytes, (nuint)alignment);
        new Span<float>((void*)p, (int)(bytes / 4)).Fill(float.NaN);
        _blocks.Add((p, bytes));
        return p;
    }

    /// <summary>An external f32 tensor over a fresh NaN-poisoned block, holding <paramref name="data"/> when given.</summary>
    public Tensor Tensor(Backend backend, float[]? data, params int[] shape)
    {
        var count = shape.Aggregate(1L, (a, d) => a * d);
        var p = Alloc(count);
        if (data is not null) data.AsSpan().CopyTo(new Span<float>((void*)p, data.Length));
        return backend.FromExternal(p, DType.F32, shape, owner: this);
    }

    public static float[] Read(Tensor t) => new ReadOnlySpan<float>((void*)t.Ptr, (int)t.Length).ToArray();

    public static float[] Read(nint p, int count) => new ReadOnlySpan<float>((void*)p, count).ToArray();

    public void Dispose()
    {
        foreach (var (p, _) in _blocks) NativeMemory.AlignedFree((void*)p);
        Frees += _blocks.Count;
        _blocks.Clear();
    }
}
