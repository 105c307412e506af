// Parses and validates a safetensors header (the JSON after the 8-byte length) against the file's size.
using System.Text.Json;
using System.Text.Unicode;

namespace Sara.Native.IO;

/// <summary>A validated safetensors header: tensors in file order of appearance, plus the string metadata.</summary>
public sealed class SafetensorsHeader
{
    /// <summary>Headers above this size are treated as corrupt (the reference implementation uses the same limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Key of the optional string-to-string metadata object.</summary>
    public const string MetadataKey = "__metadata__";

    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafetensorsHeader(IReadOnlyList<SafetensorsTensorInfo> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>
    /// Parses <paramref name="json"/> (UTF-8) and checks every entry against a data section of
    /// <paramref name="dataLength"/> bytes. Throws <see cref="SafetensorsFormatException"/> naming
    /// <paramref name="filePath"/> and the tensor at fault.
    /// </summary>
    public static SafetensorsHeader Parse(string filePath, ReadOnlySpan<byte> json, long dataLength)
    {
        if (!Utf8.IsValid(json))
            throw new SafetensorsFormatException(filePath, null, "header is not valid UTF-8 JSON (invalid UTF-8 bytes)");
        if (StrictJson.Check(json, MaxDepth) is { } fault) throw FaultOf(filePath, fault);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(filePath, null, $"header is not valid UTF-8 JSON ({e.Message})", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafetensorsFormatException(filePath, null, $"header must be a JSON object, found {doc.RootElement.ValueKind}");

            var tensors = new List<SafetensorsTensorInfo>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == MetadataKey)
                {
                    if (sawMetadata) throw new SafetensorsFormatException(filePath, null, $"duplicate '{MetadataKey}' entry");
                    sawMetadata = true;
                    ReadMetadata(filePath, prop.Value, metadata);
                    continue;
                }
                if (!seen.Add(prop.Name))
                    throw new SafetensorsFormatException(filePath, prop.Name, "duplicate tensor name in header");
                tensors.Add(ReadEntry(filePath, prop.Name, prop.Value, dataLength));
            }
            CheckNoOverlap(filePath, tensors);
            return new SafetensorsHeader(tensors, metadata);
        }
    }

    private const int MaxDepth = 16;

    /// <summary>A strict-JSON fault as the format error it is: a repeated tensor, a repeated key in an entry or the metadata, bad text.</summary>
    private static SafetensorsFormatException FaultOf(string filePath, StrictJson.Fault fault)
    {
        if (fault.Problem.StartsWith("not valid JSON", StringComparison.Ordinal))
            return new SafetensorsFormatException(filePath, null, $"header is not valid UTF-8 JSON{fault.Problem["not valid JSON".Length..]}");
        if (fault.ObjectPath.Count == 0)
            return fault.Key is null || fault.Key == MetadataKey
                ? new SafetensorsFormatException(filePath, null, $"header: {fault.Problem}")
                : fault.Problem.StartsWith("duplicate", StringComparison.Ordinal)
                    ? new SafetensorsFormatException(filePath, fault.Key, "duplicate tensor name in header")
                    : new SafetensorsFormatException(filePath, fault.Key, $"header: {fault.Problem}");
        string owner = fault.ObjectPath[0];
        return owner == MetadataKey
            ? new SafetensorsFormatException(filePath, null, $"'{MetadataKey}': {fault.Problem}")
            : new SafetensorsFormatException(filePath, owner, $"entry: {fault.Problem}");
    }

    private static void ReadMetadata(string filePath, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new SafetensorsFormatException(filePath, null, $"'{MetadataKey}' must be an object of strings, found {value.ValueKind}");
        foreach (var kv in value.EnumerateObject())
        {
            if (kv.Value.ValueKind != JsonValueKind.String)
                throw new SafetensorsFormatException(filePath, null, $"'{MetadataKey}' value of key '{SafeText.Name(kv.Name)}' must be a string, found {kv.Value.ValueKind}");
            if (!metadata.TryAdd(kv.Name, kv.Value.GetString()!))
                throw new SafetensorsFormatException(filePath, null, $"'{MetadataKey}' has duplicate key '{SafeText.Name(kv.Name)}'");
        }
    }

    private static SafetensorsTensorInfo ReadEntry(string filePath, string name, JsonElement entry, long dataLength)
    {
        SafetensorsFormatException Fail(string problem) => new(filePath, name, problem);

        if (entry.ValueKind != JsonValueKind.Object)
            throw Fail($"entry must be an object with dtype, shape and data_offsets, found {entry.ValueKind}");
        if (!entry.TryGetProperty("dtype", out var dtypeEl))
            throw Fail("entry is missing 'dtype'");
        if (!entry.TryGetProperty("shape", out var shapeEl))
            throw Fail("entry is missing 'shape'");
        if (!entry.TryGetProperty("data_offsets", out var offsetsEl))
            throw Fail("entry is missing 'data_offsets'");

        string? dtypeName = dtypeEl.ValueKind == JsonValueKind.String ? dtypeEl.GetString() : dtypeEl.GetRawText();
        if (!SafetensorsDTypes.TryParse(dtypeName, out var dtype))
            throw Fail($"unknown dtype '{SafeText.Name(dtypeName)}'");

        if (shapeEl.ValueKind != JsonValueKind.Array)
            throw Fail($"'shape' must be an array of integers, found {shapeEl.ValueKind}");
        var shape = new long[shapeEl.GetArrayLength()];
        int d = 0;
        foreach (var dim in shapeEl.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long v))
                throw Fail($"'shape' entry {d} is not an integer ({SafeText.Name(dim.GetRawText())})");
            if (v < 0) throw Fail($"'shape' has negative dimension {v} at index {d}");
            shape[d++] = v;
        }

        if (offsetsEl.ValueKind != JsonValueKind.Array || offsetsEl.GetArrayLength() != 2)
            throw Fail($"'data_offsets' must be [begin, end], found {SafeText.Name(offsetsEl.GetRawText())}");
        long begin = ReadOffset(offsetsEl[0]), end = ReadOffset(offsetsEl[1]);
        if (begin < 0 || end < 0)
            throw Fail($"'data_offsets' {SafeText.Name(offsetsEl.GetRawText())} are not non-negative integers");
        if (end < begin)
            throw Fail($"'data_offsets' end {end} is before begin {begin}");
        if (end > dataLength)
            throw Fail($"'data_offsets' [{begin}, {end}] run past the end of the data section ({dataLength} bytes)");

        long expected = ExpectedBytes(shape, SafetensorsDTypes.SizeOf(dtype));
        if (expected != end - begin)
            throw Fail($"shape [{string.Join(", ", shape)}] of {SafetensorsDTypes.ToHeaderName(dtype)} needs "
                + (expected < 0 ? "more bytes than a file can hold" : $"{expected} bytes")
                + $" but data_offsets [{begin}, {end}] hold {end - begin}");
        return new SafetensorsTensorInfo(name, dtype, shape, begin, end);
    }

    private static long ReadOffset(JsonElement el) =>
        el.ValueKind == JsonValueKind.Number && el.TryGetInt64(out long v) ? v : -1;

    /// <summary>Bytes for the shape, or -1 when the product overflows.</summary>
    private static long ExpectedBytes(long[] shape, int elementSize)
    {
        try
        {
            long n = elementSize;
            foreach (long dim in shape) n = checked(n * dim);
            return n;
        }
        catch (OverflowException)
        {
            return -1;
        }
    }

    private static void CheckNoOverlap(string filePath, List<SafetensorsTensorInfo> tensors)
    {
        var sorted = tensors.OrderBy(t => t.DataBegin).ThenBy(t => t.DataEnd).ToList();
        for (int i = 1; i < sorted.Count; i++)
        {
            var prev = sorted[i - 1];
            var cur = sorted[i];
            if (cur.DataBegin < prev.DataEnd)
                throw new SafetensorsFormatException(filePath, cur.Name,
                    $"data_offsets [{cur.DataBegin}, {cur.DataEnd}] overlap tensor '{SafeText.Name(prev.Name)}' at [{prev.DataBegin}, {prev.DataEnd}]");
        }
    }
}
