using Sara.Native.Backends;

namespace Sara.Native.Tensors;

/// <summary>
/// A dense row-major float32 array in a backend's memory (1-D or 2-D). Created through <see cref="Backend"/>;
/// released deterministically by Dispose or by the <see cref="TensorScope"/> that was active when it was made.
/// </summary>
public sealed class Tensor : IDisposable
{
    private readonly DeviceBuffer _buffer;

    internal Tensor(Backend backend, int[] shape)
    {
        if (shape.Length is < 1 or > 2) throw new ArgumentException($"Tensors are 1-D or 2-D; got rank {shape.Length}.", nameof(shape));
        foreach (var d in shape)
            if (d < 0) throw new ArgumentOutOfRangeException(nameof(shape), $"Negative dimension in shape [{string.Join(", ", shape)}].");
        Backend = backend;
        Shape = shape;
        Length = shape.Aggregate(1L, (a, d) => a * d);
        _buffer = new DeviceBuffer(backend.Pool, Length * sizeof(float));
        TensorScope.Current?.Track(this);
    }

    public Backend Backend { get; }
    public int[] Shape { get; }
    public long Length { get; }
    public int Rank => Shape.Length;
    public int Rows => Shape[0];
    public int Cols => Shape.Length == 2 ? Shape[1] : 1;
    public bool IsDisposed => _buffer.IsClosed;

    /// <summary>Pointer in the backend's memory; throws ObjectDisposedException after Dispose.</summary>
    public nint Ptr => _buffer.Pointer;

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";

    public float[] ToArray()
    {
        var data = new float[Length];
        Backend.Download(this, data);
        return data;
    }

    public void Dispose() => _buffer.Dispose();

    public override string ToString() => $"Tensor{ShapeText} on {Backend.Name}";
}
