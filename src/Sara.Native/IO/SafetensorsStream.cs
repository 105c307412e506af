// Positioned reads of one safetensors tensor into a caller's buffer: a checkpoint larger than memory streams through.
using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sara.Native.IO;

/// <summary>
/// Reads a tensor of a .safetensors file with positioned reads (pread), 4 MiB at a time, and converts it to float into
/// the caller's span. Unlike <see cref="SafetensorsFile"/>, nothing is memory-mapped, so reading a 13 GB checkpoint
/// tensor by tensor leaves the data in the page cache, not in the process's resident set.
/// </summary>
public static class SafetensorsStream
{
    private const int ChunkBytes = 4 << 20;

    /// <summary>Converts tensor <paramref name="info"/> of <paramref name="file"/> into <paramref name="destination"/> (exactly its element count).</summary>
    public static void ReadFloats(string file, SafetensorsTensorInfo info, Span<float> destination)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        ArgumentNullException.ThrowIfNull(info);
        if (!SafetensorsDTypes.IsReadableAsFloat(info.DType))
            throw new NotSupportedException($"{file}: tensor '{info.Name}' is {SafetensorsDTypes.ToHeaderName(info.DType)}; only F32, F16, BF16 and F64 read as float");
        if (destination.Length != info.ElementCount)
            throw new ArgumentException($"destination holds {destination.Length} floats; tensor '{info.Name}' {info.ShapeText} has {info.ElementCount}", nameof(destination));
        int size = SafetensorsDTypes.SizeOf(info.DType);
        using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        Span<byte> prefix = stackalloc byte[8];
        if (RandomAccess.Read(handle, prefix, 0) != 8) throw new InvalidDataException($"{file}: shorter than a safetensors header");
        long start = 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(prefix) + info.DataBegin;
        if (start + info.ByteLength > RandomAccess.GetLength(handle))
            throw new InvalidDataException($"{file}: tensor '{info.Name}' runs past the end of the file");
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            var perChunk = ChunkBytes / size;
            for (var done = 0; done < destination.Length;)
            {
                var count = Math.Min(perChunk, destination.Length - done);
                var bytes = buffer.AsSpan(0, count * size);
                for (var got = 0; got < bytes.Length;)
                {
                    var n = RandomAccess.Read(handle, bytes[got..], start + (long)done * size + got);
                    if (n <= 0) throw new InvalidDataException($"{file}: tensor '{info.Name}' ends early");
                    got += n;
                }
                Decode(info.DType, bytes, destination.Slice(done, count));
                done += count;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>BF16 widens with SIMD (the bits shifted into the high half: exact); other types go through FloatConversions.</summary>
    private static void Decode(SafetensorsDType dtype, ReadOnlySpan<byte> src, Span<float> dest)
    {
        if (dtype != SafetensorsDType.BF16 || !BitConverter.IsLittleEndian)
        {
            FloatConversions.Decode(dtype, src, dest);
            return;
        }
        var bits = MemoryMarshal.Cast<byte, ushort>(src);
        var output = MemoryMarshal.Cast<float, uint>(dest);
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + Vector256<ushort>.Count <= bits.Length; i += Vector256<ushort>.Count)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Create(bits.Slice(i, Vector256<ushort>.Count)));
                (lo << 16).CopyTo(output.Slice(i, Vector256<uint>.Count));
                (hi << 16).CopyTo(output.Slice(i + Vector256<uint>.Count, Vector256<uint>.Count));
            }
        for (; i < bits.Length; i++) output[i] = (uint)bits[i] << 16;
    }
}
