// Header entry of one tensor: name, dtype, shape, byte range within the data section.
namespace Sara.Native.IO;

/// <summary>One tensor as the header describes it. Offsets are relative to the start of the data section.</summary>
public sealed record SafetensorsTensorInfo(string Name, SafetensorsDType DType, long[] Shape, long DataBegin, long DataEnd)
{
    /// <summary>Number of elements (product of the shape; 1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>Bytes the tensor occupies.</summary>
    public long ByteLength => DataEnd - DataBegin;

    /// <summary>The shape as "[a, b, c]".</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
