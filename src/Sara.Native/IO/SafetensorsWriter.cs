// Builds a .safetensors file (float tensors encoded as F32 / F16 / BF16 / F64, other tensors copied raw, string metadata) and writes it atomically.
using System.Buffers.Binary;
using System.Text.Json;

namespace Sara.Native.IO;

/// <summary>
/// Collects tensors and metadata, then <see cref="Save"/> writes them as one .safetensors file:
/// tensors contiguous in the order added, header padded with spaces to an 8-byte boundary.
/// The write goes to a temporary file that replaces the target only when complete.
/// </summary>
public sealed class SafetensorsWriter
{
    private const int ChunkElements = 1 << 16;

    private sealed record Entry(string Name, SafetensorsDType DType, long[] Shape, long Count, Func<ReadOnlyMemory<float>>? Data,
        ReadOnlyMemory<byte> Raw = default, Action<Stream>? WriteRaw = null);

    private readonly List<Entry> _entries = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>String metadata written as <c>__metadata__</c>.</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>Names added so far, in file order.</summary>
    public IEnumerable<string> Names => _entries.Select(e => e.Name);

    /// <summary>Adds a tensor; <paramref name="data"/> is kept by reference and read by <see cref="Save"/>.</summary>
    public SafetensorsWriter Add(string name, SafetensorsDType dtype, IReadOnlyList<long> shape, ReadOnlyMemory<float> data)
    {
        long count = CheckEntry(name, dtype, shape);
        if (data.Length != count)
            throw new ArgumentException($"tensor '{name}' of shape [{string.Join(", ", shape)}] needs {count} floats, got {data.Length}", nameof(data));
        _entries.Add(new Entry(name, dtype, shape.ToArray(), count, () => data));
        _names.Add(name);
        return this;
    }

    /// <summary>Adds a tensor of any dtype as its little-endian bytes (e.g. copied from another file), kept by reference.</summary>
    public SafetensorsWriter AddRaw(string name, SafetensorsDType dtype, IReadOnlyList<long> shape, ReadOnlyMemory<byte> bytes)
    {
        long count = CheckEntry(name, dtype, shape, raw: true);
        if (bytes.Length != count * SafetensorsDTypes.SizeOf(dtype))
            throw new ArgumentException($"tensor '{name}' of shape [{string.Join(", ", shape)}] and dtype {dtype} needs {count * SafetensorsDTypes.SizeOf(dtype)} bytes, got {bytes.Length}", nameof(bytes));
        _entries.Add(new Entry(name, dtype, shape.ToArray(), count, null, bytes));
        _names.Add(name);
        return this;
    }

    /// <summary>
    /// Adds a tensor of any dtype whose bytes <paramref name="writeBytes"/> writes to the output stream during
    /// <see cref="Save"/> (e.g. copied from another file in chunks, never held whole); writing a different number of
    /// bytes than the shape needs fails the save.
    /// </summary>
    public SafetensorsWriter AddRawLazy(string name, SafetensorsDType dtype, IReadOnlyList<long> shape, Action<Stream> writeBytes)
    {
        ArgumentNullException.ThrowIfNull(writeBytes);
        long count = CheckEntry(name, dtype, shape, raw: true, inMemory: false);
        _entries.Add(new Entry(name, dtype, shape.ToArray(), count, null, default, writeBytes));
        _names.Add(name);
        return this;
    }

    /// <summary>Adds a tensor of float32 elements.</summary>
    public SafetensorsWriter Add(string name, IReadOnlyList<long> shape, ReadOnlyMemory<float> data) =>
        Add(name, SafetensorsDType.F32, shape, data);

    /// <summary>
    /// Adds a tensor whose data <paramref name="produce"/> makes during <see cref="Save"/> (so a large
    /// checkpoint is converted one tensor at a time). A wrong length or an exception fails the save.
    /// </summary>
    public SafetensorsWriter AddLazy(string name, SafetensorsDType dtype, IReadOnlyList<long> shape, Func<ReadOnlyMemory<float>> produce)
    {
        ArgumentNullException.ThrowIfNull(produce);
        long count = CheckEntry(name, dtype, shape);
        _entries.Add(new Entry(name, dtype, shape.ToArray(), count, produce));
        _names.Add(name);
        return this;
    }

    /// <summary>Writes the file. An existing file at <paramref name="path"/> is replaced only on success.</summary>
    public void Save(string path) => AtomicFile.Write(path, WriteTo);

    /// <summary>Writes the file's bytes to <paramref name="stream"/> (what <see cref="Save"/> writes; e.g. for <see cref="AtomicFile.WriteAll"/>).</summary>
    public void WriteTo(FileStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        byte[] header = BuildHeader();
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
        var buffer = new byte[ChunkElements * 8];
        foreach (var e in _entries) WriteData(stream, e, buffer);
    }

    private static void WriteData(FileStream stream, Entry e, byte[] buffer)
    {
        if (e.WriteRaw is not null)
        {
            long start = stream.Position, expected = e.Count * SafetensorsDTypes.SizeOf(e.DType);
            e.WriteRaw(stream);
            if (stream.Position - start != expected)
                throw new InvalidOperationException($"tensor '{SafeText.Name(e.Name)}' needs {expected} bytes, its writer wrote {stream.Position - start}");
            return;
        }
        if (e.Data is null)
        {
            stream.Write(e.Raw.Span);
            return;
        }
        var data = e.Data().Span;
        if (data.Length != e.Count)
            throw new InvalidOperationException($"tensor '{e.Name}' of shape [{string.Join(", ", e.Shape)}] needs {e.Count} floats, its producer gave {data.Length}");
        int size = SafetensorsDTypes.SizeOf(e.DType);
        for (int start = 0; start < data.Length; start += ChunkElements)
        {
            int n = Math.Min(ChunkElements, data.Length - start);
            var bytes = buffer.AsSpan(0, n * size);
            FloatConversions.Encode(e.DType, data.Slice(start, n), bytes);
            stream.Write(bytes);
        }
    }

    private byte[] BuildHeader()
    {
        using var ms = new MemoryStream();
        using (var json = new Utf8JsonWriter(ms))
        {
            json.WriteStartObject();
            if (Metadata.Count > 0)
            {
                json.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach (var (k, v) in Metadata) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var e in _entries)
            {
                long end = offset + e.Count * SafetensorsDTypes.SizeOf(e.DType);
                json.WriteStartObject(e.Name);
                json.WriteString("dtype", SafetensorsDTypes.ToHeaderName(e.DType));
                json.WriteStartArray("shape");
                foreach (long d in e.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
                offset = end;
            }
            json.WriteEndObject();
        }
        // Pad with spaces so the data section starts 8-byte aligned (as the reference writer does).
        while ((ms.Length + 8) % 8 != 0) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }

    private long CheckEntry(string name, SafetensorsDType dtype, IReadOnlyList<long> shape, bool raw = false, bool inMemory = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        if (name == SafetensorsHeader.MetadataKey)
            throw new ArgumentException($"'{SafetensorsHeader.MetadataKey}' is reserved and cannot name a tensor", nameof(name));
        if (_names.Contains(name))
            throw new ArgumentException($"tensor '{name}' was already added", nameof(name));
        if (!raw && !SafetensorsDTypes.IsWritable(dtype))
            throw new ArgumentException($"tensor '{name}': dtype {dtype} cannot be encoded from floats (F32, F16, BF16, F64 can; add other dtypes raw)", nameof(dtype));
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0) throw new ArgumentException($"tensor '{name}': shape [{string.Join(", ", shape)}] has a negative dimension", nameof(shape));
            count = checked(count * d);
        }
        checked { _ = count * SafetensorsDTypes.SizeOf(dtype); }
        if (inMemory && count > Array.MaxLength)
            throw new ArgumentException($"tensor '{name}': {count} elements is more than one array holds", nameof(shape));
        return count;
    }
}
