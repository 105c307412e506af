// One tensor of an adapter layer: its shape and row-major float data.
namespace Sara.Native.IO;

/// <summary>A shaped float array (row-major). The data length must equal the product of the shape.</summary>
public sealed record AdapterTensor
{
    public int[] Shape { get; }
    public float[] Data { get; }

    public AdapterTensor(int[] shape, float[] data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        if (shape.Any(d => d < 0))
            throw new ArgumentException($"shape [{string.Join(", ", shape)}] has a negative dimension", nameof(shape));
        long count = shape.Aggregate(1L, (a, d) => a * d);
        if (data.LongLength != count)
            throw new ArgumentException($"shape [{string.Join(", ", shape)}] needs {count} values, got {data.Length}", nameof(data));
        Shape = shape;
        Data = data;
    }

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
