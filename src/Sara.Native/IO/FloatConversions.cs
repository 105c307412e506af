// Little-endian conversions between float and the F16 / BF16 / F64 storage types, span at a time.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sara.Native.IO;

/// <summary>Element conversions used by the safetensors reader and writer (round to nearest even).</summary>
public static class FloatConversions
{
    /// <summary>bfloat16 bits of <paramref name="value"/>, rounded to nearest even; NaN stays a (quiet) NaN.</summary>
    public static ushort ToBFloat16Bits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        uint roundingBias = 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)((bits + roundingBias) >> 16);
    }

    /// <summary>The float a bfloat16 bit pattern stands for (exact).</summary>
    public static float FromBFloat16Bits(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>Decodes <paramref name="dest"/>.Length elements of <paramref name="dtype"/> from little-endian bytes.</summary>
    public static void Decode(SafetensorsDType dtype, ReadOnlySpan<byte> src, Span<float> dest)
    {
        int size = SafetensorsDTypes.SizeOf(dtype);
        if (src.Length != dest.Length * size)
            throw new ArgumentException($"expected {dest.Length * size} bytes for {dest.Length} {dtype} elements, got {src.Length}", nameof(src));
        switch (dtype)
        {
            case SafetensorsDType.F32:
                for (int i = 0; i < dest.Length; i++) dest[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(4 * i)..]);
                break;
            case SafetensorsDType.F16:
                for (int i = 0; i < dest.Length; i++) dest[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(src[(2 * i)..]);
                break;
            case SafetensorsDType.BF16:
                DecodeBFloat16(src, dest);
                break;
            case SafetensorsDType.F64:
                for (int i = 0; i < dest.Length; i++) dest[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(src[(8 * i)..]);
                break;
            default:
                throw new NotSupportedException($"dtype {SafetensorsDTypes.ToHeaderName(dtype)} cannot be read as float (F32, F16, BF16, F64 can)");
        }
    }

    /// <summary>bfloat16 to float is the bits shifted into the high half (exact): 16 at a time with SIMD on a little-endian host.</summary>
    private static void DecodeBFloat16(ReadOnlySpan<byte> src, Span<float> dest)
    {
        var i = 0;
        if (BitConverter.IsLittleEndian && Vector256.IsHardwareAccelerated)
        {
            var bits = MemoryMarshal.Cast<byte, ushort>(src);
            var output = MemoryMarshal.Cast<float, uint>(dest);
            for (; i + 16 <= bits.Length; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Create(bits.Slice(i, 16)));
                (lo << 16).CopyTo(output.Slice(i, 8));
                (hi << 16).CopyTo(output.Slice(i + 8, 8));
            }
        }
        for (; i < dest.Length; i++) dest[i] = FromBFloat16Bits(BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]));
    }

    /// <summary>Encodes floats as little-endian <paramref name="dtype"/> (F32, F16, BF16 or F64).</summary>
    public static void Encode(SafetensorsDType dtype, ReadOnlySpan<float> src, Span<byte> dest)
    {
        int size = SafetensorsDTypes.SizeOf(dtype);
        if (dest.Length != src.Length * size)
            throw new ArgumentException($"expected {src.Length * size} bytes for {src.Length} {dtype} elements, got {dest.Length}", nameof(dest));
        switch (dtype)
        {
            case SafetensorsDType.F32:
                for (int i = 0; i < src.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(dest[(4 * i)..], src[i]);
                break;
            case SafetensorsDType.F16:
                for (int i = 0; i < src.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(dest[(2 * i)..], (Half)src[i]);
                break;
            case SafetensorsDType.BF16:
                for (int i = 0; i < src.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(dest[(2 * i)..], ToBFloat16Bits(src[i]));
                break;
            case SafetensorsDType.F64:
                for (int i = 0; i < src.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(dest[(8 * i)..], src[i]);
                break;
            default:
                throw new NotSupportedException($"dtype {SafetensorsDTypes.ToHeaderName(dtype)} cannot be written from floats (F32, F16, BF16, F64 can)");
        }
    }
}
