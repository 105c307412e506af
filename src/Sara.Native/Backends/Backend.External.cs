using Sara.Native.Tensors;

namespace Sara.Native.Backends;

public abstract partial class Backend
{
    /// <summary>
    /// A tensor over memory the caller owns, with no copy: host memory on the CPU backend, device memory of the runtime's
    /// context on the GPU, and on the emulated runtime its "device" memory, which is host memory. Every op accepts it like
    /// any other tensor. The library never frees, pools or reallocates it: Dispose (or the <see cref="TensorScope"/> it was
    /// made in) only drops <paramref name="owner"/> (an object kept alive until then, e.g. the trainer's buffer object) and
    /// runs <paramref name="onRelease"/> once. The memory must stay valid, and must not be written by the caller while an op
    /// issued on this backend's stream may still use it.
    /// </summary>
    /// <param name="pointer">First element; aligned to the element size (4 bytes for f32, 2 for bf16 / f16). May be 0 only for an empty shape.</param>
    /// <param name="dtype">Element type.</param>
    /// <param name="shape">1-D or 2-D, row-major.</param>
    /// <param name="rowStride">Elements from one row to the next; -1 (default) means dense rows (= the column count).
    /// Only dense rows are accepted today: a padded row stride is refused with a message, never silently mis-read.</param>
    /// <param name="owner">Kept alive until the tensor is disposed.</param>
    /// <param name="onRelease">Run exactly once when the tensor is disposed (not by a finalizer).</param>
    public Tensor FromExternal(nint pointer, DType dtype, int[] shape, long rowStride = -1, object? owner = null, Action? onRelease = null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        _ = dtype.Size();   // unknown dtype: ArgumentOutOfRangeException
        if (shape.Length is < 1 or > 2) throw new ArgumentException($"Tensors are 1-D or 2-D; got rank {shape.Length}.", nameof(shape));
        foreach (var d in shape)
            if (d < 0) throw new ArgumentOutOfRangeException(nameof(shape), $"Negative dimension in shape [{string.Join(", ", shape)}].");
        var cols = shape[^1];
        var length = shape.Aggregate(1L, (a, d) => a * d);
        if (rowStride != -1 && rowStride != cols)
            throw new ArgumentException(
                $"FromExternal: row stride {rowStride} for shape [{string.Join(", ", shape)}]; only dense rows (stride {cols}) are accepted. " +
                "Copy padded rows into a dense buffer first.", nameof(rowStride));
        if (pointer == 0 && length > 0) throw new ArgumentException("FromExternal: null pointer for a non-empty tensor.", nameof(pointer));
        if (pointer % dtype.Size() != 0)
            throw new ArgumentException($"FromExternal: pointer 0x{pointer:x} is not aligned to {dtype.Size()} bytes ({dtype.Name()}).", nameof(pointer));
        return new Tensor(this, (int[])shape.Clone(), dtype, new ExternalStorage(pointer, owner, onRelease));
    }
}
