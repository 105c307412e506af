// Loads a checkpoint tensor onto a backend in its stored dtype (F32 / BF16 / F16): the bridge from IO to tensors.
using System.Buffers;
using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Native.IO;

/// <summary>
/// Checkpoint tensors straight onto a backend (DESIGN 3.1): a BF16 or F16 weight becomes a 16-bit tensor whose bytes
/// come from the file a chunk at a time (a positional read into one pooled 1 MiB buffer, then memcpy on the CPU,
/// cuMemcpyHtoD on the GPU). No float32 copy, and no host copy of more than one chunk, exists at any point.
/// </summary>
public static class SafetensorsTensors
{
    /// <summary>Bytes read and handed to the backend per step.</summary>
    public const int ChunkBytes = 1 << 20;

    /// <summary>
    /// Tensor <paramref name="name"/> of <paramref name="source"/> as a tensor of its own dtype: 1-D as [n], 2-D as stored,
    /// higher ranks (conv weights out x in x kh x kw) as out x (the rest). Made outside any <see cref="TensorScope"/>: the
    /// caller owns it. F64 and the integer types have no tensor dtype (ReadFloats converts F64 to float).
    /// </summary>
    public static Tensor Load(Backend backend, ISafetensorsSource source, string name)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(source);
        var info = source.GetInfo(name);
        var dtype = FloatConversions.TensorDType(info.DType)
            ?? throw new NotSupportedException($"{source.Path}: tensor '{name}' is {SafetensorsDTypes.ToHeaderName(info.DType)}; " +
                                               "only F32, BF16 and F16 load as tensors (ReadFloats converts F64)");
        var s = info.Shape;
        int[] shape = s.Length switch
        {
            0 => [1],
            1 => [checked((int)s[0])],
            _ => [checked((int)s[0]), checked((int)s.Skip(1).Aggregate(1L, (a, d) => a * d))],
        };
        using var _ = TensorScope.Suspend();
        var t = backend.Empty(dtype, shape);
        var chunk = ArrayPool<byte>.Shared.Rent((int)Math.Min(ChunkBytes, Math.Max(info.ByteLength, 1)));
        try
        {
            for (long offset = 0; offset < info.ByteLength; offset += ChunkBytes)
            {
                var bytes = chunk.AsSpan(0, (int)Math.Min(ChunkBytes, info.ByteLength - offset));
                source.ReadBytes(name, offset, bytes);
                backend.UploadBytes(t, bytes, offset);
            }
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
        finally { ArrayPool<byte>.Shared.Return(chunk); }
    }
}
