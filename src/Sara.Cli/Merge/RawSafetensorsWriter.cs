using System.Buffers.Binary;
using System.Text.Json;
using Sara.Native.IO;

namespace Sara.Cli.Merge;

/// <summary>
/// A .safetensors writer that keeps any dtype: tensors copied as raw bytes (ints, bools, ... unchanged) or float data
/// encoded to F32 / F16 / BF16 / F64. Same layout as the library's writer (header padded to 8 bytes, atomic write).
/// </summary>
public sealed class RawSafetensorsWriter
{
    private readonly List<(string Name, SafetensorsDType DType, long[] Shape, byte[] Bytes)> _entries = new();

    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    public void AddRaw(string name, SafetensorsDType dtype, long[] shape, byte[] bytes)
    {
        long count = shape.Aggregate(1L, (a, d) => a * d);
        if (bytes.LongLength != count * SafetensorsDTypes.SizeOf(dtype))
            throw new ArgumentException($"tensor '{name}': {bytes.Length} bytes do not hold [{string.Join(", ", shape)}] of {dtype}", nameof(bytes));
        _entries.Add((name, dtype, shape, bytes));
    }

    public void AddFloats(string name, SafetensorsDType dtype, long[] shape, float[] data)
    {
        var bytes = new byte[checked(data.Length * SafetensorsDTypes.SizeOf(dtype))];
        if (dtype == SafetensorsDType.F64)
            for (var i = 0; i < data.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * i), data[i]);
        else
            FloatConversions.Encode(dtype, data, bytes);
        AddRaw(name, dtype, shape, bytes);
    }

    public void Save(string path)
    {
        var header = Header();
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            foreach (var e in _entries) stream.Write(e.Bytes);
        });
    }

    private byte[] Header()
    {
        using var ms = new MemoryStream();
        using (var json = new Utf8JsonWriter(ms))
        {
            json.WriteStartObject();
            if (Metadata.Count > 0)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in Metadata) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var e in _entries)
            {
                json.WriteStartObject(e.Name);
                json.WriteString("dtype", SafetensorsDTypes.ToHeaderName(e.DType));
                json.WriteStartArray("shape");
                foreach (var d in e.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + e.Bytes.LongLength);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += e.Bytes.LongLength;
            }
            json.WriteEndObject();
        }
        while ((ms.Length + 8) % 8 != 0) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }
}
