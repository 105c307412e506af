// Common read API of a single safetensors file and a sharded checkpoint.
namespace Sara.Native.IO;

/// <summary>Something tensors can be read from by name: one .safetensors file or a sharded checkpoint.</summary>
public interface ISafetensorsSource : IDisposable
{
    /// <summary>The path it was opened from (the file, or the index .json).</summary>
    string Path { get; }

    /// <summary>Every tensor, in header (or weight_map) order.</summary>
    IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }

    /// <summary>String metadata (the file's <c>__metadata__</c>, or the index's <c>metadata</c>).</summary>
    IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The header entry of <paramref name="name"/>; <see cref="KeyNotFoundException"/> when absent.</summary>
    SafetensorsTensorInfo GetInfo(string name);

    /// <summary>True when a tensor of that name exists.</summary>
    bool Contains(string name);

    /// <summary>The tensor's elements converted to float (F32, F16, BF16, F64), row-major.</summary>
    float[] ReadFloats(string name);

    /// <summary>
    /// Raw little-endian bytes of tensor <paramref name="name"/> from <paramref name="byteOffset"/> into
    /// <paramref name="destination"/> (a positional read): how 16-bit weights reach a backend without a float32 copy.
    /// </summary>
    void ReadBytes(string name, long byteOffset, Span<byte> destination);
}
