// Little-endian conversions between float and the F16 / BF16 / F64 storage types, span at a time.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Sara.Native.Tensors;

namespace Sara.Native.IO;

/// <summary>
/// Element conversions used by the safetensors reader and writer: the 16-bit types through <see cref="Precision"/>
/// (round to nearest even, PyTorch's bits; NaN becomes the canonical quiet NaN).
/// </summary>
public static class FloatConversions
{
    /// <summary>bfloat16 bits of <paramref name="value"/>, rounded to nearest even (<see cref="Precision.ToBFloat16"/>).</summary>
    public static ushort ToBFloat16Bits(float value) => Precision.ToBFloat16(value);

    /// <summary>The float a bfloat16 bit pattern stands for (exact).</summary>
    public static float FromBFloat16Bits(ushort bits) => Precision.FromBFloat16(bits);

    /// <summary>The tensor element type a safetensors dtype is held in on a backend: F32, BF16, F16, or null (no tensor dtype).</summary>
    public static DType? TensorDType(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F32 => DType.F32,
        SafetensorsDType.BF16 => DType.BF16,
        SafetensorsDType.F16 => DType.F16,
        _ => null,
    };

    /// <summary>The safetensors dtype a tensor of <paramref name="dtype"/> is written as.</summary>
    public static SafetensorsDType ToSafetensors(DType dtype) => dtype switch
    {
        DType.BF16 => SafetensorsDType.BF16,
        DType.F16 => SafetensorsDType.F16,
        _ => SafetensorsDType.F32,
    };

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
            case SafetensorsDType.F16 or SafetensorsDType.BF16 when BitConverter.IsLittleEndian:
                Precision.Widen(TensorDType(dtype)!.Value, MemoryMarshal.Cast<byte, ushort>(src), dest);
                break;
            case SafetensorsDType.F16 or SafetensorsDType.BF16:
                for (int i = 0; i < dest.Length; i++) dest[i] = Precision.From16(TensorDType(dtype)!.Value, BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]));
                break;
            case SafetensorsDType.F64:
                for (int i = 0; i < dest.Length; i++) dest[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(src[(8 * i)..]);
                break;
            default:
                throw new NotSupportedException($"dtype {SafetensorsDTypes.ToHeaderName(dtype)} cannot be read as float (F32, F16, BF16, F64 can)");
        }
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
            case SafetensorsDType.F16 or SafetensorsDType.BF16 when BitConverter.IsLittleEndian:
                Precision.Narrow(TensorDType(dtype)!.Value, src, MemoryMarshal.Cast<byte, ushort>(dest));
                break;
            case SafetensorsDType.F16 or SafetensorsDType.BF16:
                for (int i = 0; i < src.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(dest[(2 * i)..], Precision.To16(TensorDType(dtype)!.Value, src[i]));
                break;
            case SafetensorsDType.F64:
                for (int i = 0; i < src.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(dest[(8 * i)..], src[i]);
                break;
            default:
                throw new NotSupportedException($"dtype {SafetensorsDTypes.ToHeaderName(dtype)} cannot be written from floats (F32, F16, BF16, F64 can)");
        }
    }
}
