// One initializer (stored weight) of an ONNX model: name, shape, element type, and a float view of its data.
using Onnx;

namespace Sara.Native.IO;

/// <summary>ONNX element types this reader converts to float (values as in onnx.proto's TensorProto.DataType).</summary>
public enum OnnxElementType
{
    Float = 1,
    Float16 = 10,
    Double = 11,
    BFloat16 = 16,
}

/// <summary>
/// A weight stored in an ONNX graph. <see cref="ReadFloats"/> decodes raw_data or the typed field
/// (float_data, int32_data holding float16/bfloat16 bits, double_data) or external data on demand.
/// </summary>
public sealed class OnnxInitializer
{
    private readonly TensorProto _proto;
    private readonly string _modelPath;

    public string Name => _proto.Name;

    /// <summary>Dimensions as stored (for Gemm/MatMul/Conv: see <see cref="OnnxWeights.UsesOf"/> for orientation).</summary>
    public long[] Shape { get; }

    /// <summary>The onnx.proto data_type number.</summary>
    public int DataType => _proto.DataType;

    /// <summary>True when the element type is float, float16, bfloat16 or double.</summary>
    public bool IsFloat => Enum.IsDefined((OnnxElementType)_proto.DataType);

    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    internal OnnxInitializer(TensorProto proto, string modelPath)
    {
        _proto = proto;
        _modelPath = modelPath;
        Shape = proto.Dims.ToArray();
    }

    /// <summary>The elements as float, row-major. Throws for non-float types and inconsistent data.</summary>
    public float[] ReadFloats()
    {
        if (!IsFloat)
            throw new NotSupportedException($"{_modelPath}: initializer '{Name}' has ONNX data_type {DataType}; only float, float16, bfloat16 and double read as float");
        long count = ElementCount;
        if (count > Array.MaxLength) throw new NotSupportedException($"{_modelPath}: initializer '{Name}' has {count} elements");
        var type = (OnnxElementType)DataType;
        var result = new float[count];
        if (_proto.DataLocation == TensorProto.Types.DataLocation.External)
            DecodeRaw(type, ReadExternal(count * ElementSize(type)), result);
        else if (!_proto.RawData.IsEmpty || count == 0)
            DecodeRaw(type, _proto.RawData.Span, result);
        else
            DecodeTyped(type, result);
        return result;
    }

    private static int ElementSize(OnnxElementType type) => type switch
    {
        OnnxElementType.Float => 4,
        OnnxElementType.Double => 8,
        _ => 2,
    };

    private void DecodeRaw(OnnxElementType type, ReadOnlySpan<byte> raw, float[] dest)
    {
        int size = ElementSize(type);
        if (raw.Length != (long)dest.Length * size)
            throw Bad($"raw_data holds {raw.Length} bytes, shape [{string.Join(", ", Shape)}] needs {(long)dest.Length * size}");
        var dtype = type switch
        {
            OnnxElementType.Float => SafetensorsDType.F32,
            OnnxElementType.Float16 => SafetensorsDType.F16,
            OnnxElementType.BFloat16 => SafetensorsDType.BF16,
            _ => SafetensorsDType.F64,
        };
        FloatConversions.Decode(dtype, raw, dest);
    }

    private void DecodeTyped(OnnxElementType type, float[] dest)
    {
        int have = type switch
        {
            OnnxElementType.Float => _proto.FloatData.Count,
            OnnxElementType.Double => _proto.DoubleData.Count,
            _ => _proto.Int32Data.Count,
        };
        if (have != dest.Length)
            throw Bad($"typed data holds {have} elements, shape [{string.Join(", ", Shape)}] needs {dest.Length}");
        for (int i = 0; i < dest.Length; i++)
        {
            dest[i] = type switch
            {
                OnnxElementType.Float => _proto.FloatData[i],
                OnnxElementType.Double => (float)_proto.DoubleData[i],
                OnnxElementType.Float16 => (float)BitConverter.UInt16BitsToHalf((ushort)_proto.Int32Data[i]),
                _ => FloatConversions.FromBFloat16Bits((ushort)_proto.Int32Data[i]),
            };
        }
    }

    private byte[] ReadExternal(long bytes)
    {
        string? location = null;
        long offset = 0, length = -1;
        foreach (var kv in _proto.ExternalData)
        {
            if (kv.Key == "location") location = kv.Value;
            else if (kv.Key == "offset") offset = long.Parse(kv.Value, System.Globalization.CultureInfo.InvariantCulture);
            else if (kv.Key == "length") length = long.Parse(kv.Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        if (location is null) throw Bad("external data has no 'location'");
        if (length >= 0 && length != bytes) throw Bad($"external data length {length} differs from the {bytes} bytes its shape needs");
        string folder = Path.GetDirectoryName(_modelPath)!;
        string file = Path.GetFullPath(Path.Combine(folder, location));
        if (!file.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw Bad($"external data location '{location}' is outside the model's folder");
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read);
        if (offset < 0 || offset + bytes > stream.Length)
            throw Bad($"external data [{offset}, {offset + bytes}) runs past the end of '{location}' ({stream.Length} bytes)");
        var buffer = new byte[bytes];
        stream.Position = offset;
        stream.ReadExactly(buffer);
        return buffer;
    }

    private InvalidDataException Bad(string problem) => new($"{_modelPath}: initializer '{Name}': {problem}");
}
