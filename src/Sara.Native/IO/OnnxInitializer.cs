// One initializer (stored weight) of an ONNX model: name, shape, element type, and a float view of its data.
using System.Globalization;
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
    private readonly string _modelFolder;

    public string Name => _proto.Name;

    /// <summary>Dimensions as stored (for Gemm/MatMul/Conv: see <see cref="OnnxWeights.UsesOf"/> for orientation).</summary>
    public long[] Shape { get; }

    /// <summary>The onnx.proto data_type number.</summary>
    public int DataType => _proto.DataType;

    /// <summary>True when the element type is float, float16, bfloat16 or double.</summary>
    public bool IsFloat => Enum.IsDefined((OnnxElementType)_proto.DataType);

    /// <summary>The product of the dimensions (checked when the model is loaded).</summary>
    public long ElementCount { get; }

    /// <param name="proto">the stored tensor</param>
    /// <param name="modelPath">the model file, for messages</param>
    /// <param name="modelFolder">the canonical folder external data must lie in</param>
    internal OnnxInitializer(TensorProto proto, string modelPath, string modelFolder)
    {
        _proto = proto;
        _modelPath = modelPath;
        _modelFolder = modelFolder;
        Shape = proto.Dims.ToArray();
        long count = 1;
        foreach (long d in Shape)
        {
            if (d < 0) throw Bad($"dims [{string.Join(", ", Shape)}] have a negative dimension");
            if (d != 0 && count > long.MaxValue / d)
                throw Bad($"dims [{string.Join(", ", Shape)}] hold more elements than a file can");
            count *= d;
        }
        ElementCount = count;
    }

    /// <summary>The elements as float, row-major. Throws for non-float types and inconsistent data.</summary>
    public float[] ReadFloats()
    {
        if (!IsFloat)
            throw new NotSupportedException($"{SafeText.Line(_modelPath)}: initializer '{SafeText.Name(Name)}' has ONNX data_type {DataType}; only float, float16, bfloat16 and double read as float");
        long count = ElementCount;
        if (count > Array.MaxLength) throw new NotSupportedException($"{SafeText.Line(_modelPath)}: initializer '{SafeText.Name(Name)}' has {count} elements, more than one float[] holds");
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

    /// <summary>The external data's location, offset and length (null location when the data is stored inline).</summary>
    private (string? Location, long Offset, long Length) ExternalData()
    {
        if (_proto.DataLocation != TensorProto.Types.DataLocation.External) return (null, 0, -1);
        string? location = null;
        long offset = 0, length = -1;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var kv in _proto.ExternalData)
        {
            if (!seen.Add(kv.Key)) throw Bad($"external data key '{SafeText.Name(kv.Key)}' appears twice");
            if (kv.Key == "location") location = kv.Value;
            else if (kv.Key == "offset") offset = Integer(kv.Key, kv.Value);
            else if (kv.Key == "length") length = Integer(kv.Key, kv.Value);
        }
        if (string.IsNullOrEmpty(location)) throw Bad("external data has no 'location'");
        return (location, offset, length);
    }

    private long Integer(string key, string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long v)
            ? v : throw Bad($"external data '{key}' = '{SafeText.Name(text)}' is not a whole number of bytes (0 to {long.MaxValue})");

    /// <summary>The canonical path of this initializer's external data file, or null (inline, missing, outside, malformed).</summary>
    internal string? ExternalFile()
    {
        try
        {
            var (location, _, _) = ExternalData();
            return location is null ? null : RegularFile.ResolveInside(_modelFolder, location);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private byte[] ReadExternal(long bytes)
    {
        var (location, offset, length) = ExternalData();
        if (length >= 0 && length != bytes) throw Bad($"external data length {length} differs from the {bytes} bytes its shape needs");
        string shown = SafeText.Name(location);
        string? file;
        try
        {
            file = RegularFile.ResolveInside(_modelFolder, location!);
        }
        catch (FileNotFoundException)
        {
            throw Bad($"external data file '{shown}' does not exist in '{SafeText.Line(_modelFolder)}'");
        }
        if (file is null)
            throw Bad($"external data location '{shown}' resolves outside the model's folder '{SafeText.Line(_modelFolder)}' (symbolic links followed); only files inside it are read");
        using var stream = RegularFile.OpenRead(file, $"external data of initializer '{SafeText.Name(Name)}'");
        if (offset > stream.Length || bytes > stream.Length - offset)
            throw Bad($"external data [{offset}, {offset} + {bytes}) runs past the end of '{shown}' ({stream.Length} bytes)");
        var buffer = new byte[bytes];
        stream.Position = offset;
        stream.ReadExactly(buffer);
        return buffer;
    }

    private InvalidDataException Bad(string problem) => new($"{SafeText.Line(_modelPath)}: initializer '{SafeText.Name(Name)}': {problem}");
}
