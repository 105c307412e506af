using Sara.Native.Backends;

namespace Sara.Native.Tensors;

/// <summary>
/// A dense row-major array in a backend's memory (1-D or 2-D) of one <see cref="Tensors.DType"/>: float32, or bf16 / f16
/// (frozen weights, and activations on the CPU backend; DESIGN 3.1). Created through <see cref="Backend"/>;
/// released deterministically by Dispose or by the <see cref="TensorScope"/> that was active when it was made.
/// </summary>
public sealed class Tensor : IDisposable
{
    private readonly DeviceBuffer? _buffer;
    private readonly ExternalStorage? _external;

    internal Tensor(Backend backend, int[] shape, DType dtype = DType.F32)
    {
        if (shape.Length is < 1 or > 2) throw new ArgumentException($"Tensors are 1-D or 2-D; got rank {shape.Length}.", nameof(shape));
        foreach (var d in shape)
            if (d < 0) throw new ArgumentOutOfRangeException(nameof(shape), $"Negative dimension in shape [{string.Join(", ", shape)}].");
        Backend = backend;
        Shape = shape;
        DType = dtype;
        Length = shape.Aggregate(1L, (a, d) => a * d);
        _buffer = new DeviceBuffer(backend.Pool, Length * dtype.Size());
        TensorScope.Current?.Track(this);
    }

    /// <summary>
    /// A tensor over memory the caller owns (<see cref="Backend.FromExternal"/>): never freed, pooled or copied by the
    /// library; Dispose only lets go of it (drops the owner reference, runs the release callback once).
    /// </summary>
    internal Tensor(Backend backend, int[] shape, DType dtype, ExternalStorage external)
    {
        Backend = backend;
        Shape = shape;
        DType = dtype;
        Length = shape.Aggregate(1L, (a, d) => a * d);
        _external = external;
        TensorScope.Current?.Track(this);
    }

    public Backend Backend { get; }
    public int[] Shape { get; }
    public DType DType { get; }
    public long Length { get; }

    /// <summary>Bytes of the elements: Length x the dtype's size.</summary>
    public long Bytes => Length * DType.Size();
    public int Rank => Shape.Length;
    public int Rows => Shape[0];
    public int Cols => Shape.Length == 2 ? Shape[1] : 1;
    public bool IsDisposed => _external?.IsReleased ?? _buffer!.IsClosed;

    /// <summary>True for a tensor over caller-owned memory (<see cref="Backend.FromExternal"/>).</summary>
    public bool IsExternal => _external is not null;

    /// <summary>Pointer in the backend's memory; throws ObjectDisposedException after Dispose.</summary>
    public nint Ptr => _external?.Pointer ?? _buffer!.Pointer;

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";

    /// <summary>Shape and dtype, as error messages print a tensor: "[4, 8] bf16".</summary>
    public string Describe => $"{ShapeText} {DType.Name()}";

    /// <summary>The elements as float32 (16-bit values widened exactly).</summary>
    public float[] ToArray()
    {
        var data = new float[Length];
        Backend.Download(this, data);
        return data;
    }

    /// <summary>The raw bits of a 16-bit tensor (throws for float32).</summary>
    public ushort[] ToBits()
    {
        var bits = new ushort[Length];
        Backend.DownloadBits(this, bits);
        return bits;
    }

    /// <summary>
    /// Keeps this tensor's memory valid until the returned action runs, even if the tensor is disposed first (a DLPack
    /// export: the consumer's deleter runs the action). Throws if the tensor is already disposed.
    /// </summary>
    internal Action Retain()
    {
        if (_external is not null)
        {
            _external.Retain();
            return _external.Drop;
        }
        var added = false;
        _buffer!.DangerousAddRef(ref added);
        if (!added) throw new ObjectDisposedException(nameof(Tensor));
        return _buffer.DangerousRelease;
    }

    public void Dispose()
    {
        if (_external is not null) _external.Release();
        else _buffer!.Dispose();
    }

    public override string ToString() => $"Tensor{ShapeText} {DType.Name()} on {Backend.Name}";
}
