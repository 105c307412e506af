using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sara.Native.Tensors;

/// <summary>
/// Bit-exact conversions between float32 and the 16-bit floats, one value or a span at a time (DESIGN 3.1).
/// Narrowing rounds to nearest, ties to even, with the bits of PyTorch's scalar conversions (c10
/// <c>round_to_nearest_even</c> for bf16, <c>fp16_ieee_from_fp32_value</c> for f16): overflow goes to infinity
/// (f16: |x| &gt;= 65520), subnormal results are rounded like any other, and every NaN becomes the canonical quiet NaN
/// (bf16 0x7FC0; f16 sign | 0x7E00). Widening is exact (a signalling f16 NaN comes back quiet, as from F16C).
/// The same rules, bit for bit, are in kernels/common.cuh (<c>sara_float_to_bf16</c> and friends) for the kernels and
/// the emulator; tests compare the two over millions of bit patterns.
/// </summary>
public static class Precision
{
    /// <summary>The canonical quiet NaNs the narrowing conversions produce.</summary>
    public const ushort BFloat16NaN = 0x7FC0, HalfNaN = 0x7E00;

    /// <summary>bfloat16 bits of <paramref name="value"/>, rounded to nearest even.</summary>
    public static ushort ToBFloat16(float value)
    {
        var u = BitConverter.SingleToUInt32Bits(value);
        if ((u & 0x7FFF_FFFFu) > 0x7F80_0000u) return BFloat16NaN;
        return (ushort)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
    }

    /// <summary>The float a bfloat16 bit pattern stands for (exact).</summary>
    public static float FromBFloat16(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>IEEE half bits of <paramref name="value"/>, rounded to nearest even.</summary>
    public static ushort ToHalf(float value)
    {
        var u = BitConverter.SingleToUInt32Bits(value);
        var sign = (ushort)((u >> 16) & 0x8000u);
        var a = u & 0x7FFF_FFFFu;
        if (a > 0x7F80_0000u) return (ushort)(sign | HalfNaN);
        if (a >= 0x477F_F000u) return (ushort)(sign | 0x7C00);           // >= 65520 (and infinity): infinity
        if (a >= 0x3880_0000u)                                              // >= 2^-14: a normal half
            return (ushort)(sign | (((a + 0xFFFu + ((a >> 13) & 1u)) >> 13) - 0x1_C000u));
        if (a < 0x3300_0000u) return sign;                                  // <= 2^-25 (the tie rounds to even 0)
        // Subnormal half: the 24-bit significand shifted to units of 2^-24, rounded to nearest even.
        var shift = (int)(126 - (a >> 23));                                 // 14..24
        var m = (a & 0x7F_FFFFu) | 0x80_0000u;
        var r = m >> shift;
        var rem = m & ((1u << shift) - 1);
        var half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1u) != 0)) r++;
        return (ushort)(sign | r);
    }

    /// <summary>The float an IEEE half bit pattern stands for (exact; NaNs come back quiet with their payload).</summary>
    public static float FromHalf(ushort bits)
    {
        uint h = bits, sign = (h & 0x8000u) << 16, em = h & 0x7FFFu;
        if (em >= 0x7C00u) return BitConverter.UInt32BitsToSingle(sign | 0x7F80_0000u | (em << 13) | (em > 0x7C00u ? 0x40_0000u : 0));
        if (em >= 0x0400u) return BitConverter.UInt32BitsToSingle(sign | ((em << 13) + 0x3800_0000u));
        var sub = em * (1f / (1 << 24));                                    // exact: em < 2^10
        return sign != 0 ? -sub : sub;
    }

    /// <summary>
    /// 16-bit bits of a float64 value, rounded once to nearest even (no double rounding through float32): the value is
    /// first rounded to float32 with round-to-odd, which keeps the 13+ extra bits the final rounding needs to be exact.
    /// </summary>
    public static ushort To16(DType dtype, double value) => To16(dtype, RoundToOddSingle(value));

    /// <summary>The float32 nearest to value in round-to-odd: truncated toward zero, last bit set when inexact.</summary>
    private static float RoundToOddSingle(double value)
    {
        var f = (float)value;
        if (double.IsNaN(value) || (double)f == value) return f;
        var u = BitConverter.SingleToUInt32Bits(f);
        if (Math.Abs((double)f) > Math.Abs(value)) u--;   // one step toward zero (infinity steps to float's largest finite)
        return BitConverter.UInt32BitsToSingle(u | 1u);
    }

    /// <summary>16-bit bits of <paramref name="value"/> in <paramref name="dtype"/> (BF16 or F16).</summary>
    public static ushort To16(DType dtype, float value) => dtype switch
    {
        DType.BF16 => ToBFloat16(value),
        DType.F16 => ToHalf(value),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a 16-bit dtype"),
    };

    /// <summary>The float 16-bit <paramref name="bits"/> of <paramref name="dtype"/> stand for (exact).</summary>
    public static float From16(DType dtype, ushort bits) => dtype switch
    {
        DType.BF16 => FromBFloat16(bits),
        DType.F16 => FromHalf(bits),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a 16-bit dtype"),
    };

    /// <summary>The largest finite value of <paramref name="dtype"/>.</summary>
    public static float MaxFinite(DType dtype) => dtype switch
    {
        DType.F32 => float.MaxValue,
        DType.BF16 => FromBFloat16(0x7F7F),
        DType.F16 => 65504f,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>src (16-bit bits of <paramref name="dtype"/>) widened into dst, exactly; the spans have equal lengths.</summary>
    public static void Widen(DType dtype, ReadOnlySpan<ushort> src, Span<float> dst)
    {
        if (src.Length != dst.Length) throw new ArgumentException($"{src.Length} 16-bit values into {dst.Length} floats.", nameof(dst));
        ref var s = ref MemoryMarshal.GetReference(src);
        ref var d = ref MemoryMarshal.GetReference(MemoryMarshal.Cast<float, uint>(dst));
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 16 <= src.Length; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref s, (nuint)i));
                (dtype == DType.BF16 ? lo << 16 : HalfToSingleBits(lo)).StoreUnsafe(ref d, (nuint)i);
                (dtype == DType.BF16 ? hi << 16 : HalfToSingleBits(hi)).StoreUnsafe(ref d, (nuint)(i + 8));
            }
        }
        for (; i < src.Length; i++) dst[i] = From16(dtype, src[i]);
    }

    /// <summary>src rounded into dst (16-bit bits of <paramref name="dtype"/>); the spans have equal lengths.</summary>
    public static void Narrow(DType dtype, ReadOnlySpan<float> src, Span<ushort> dst)
    {
        if (src.Length != dst.Length) throw new ArgumentException($"{src.Length} floats into {dst.Length} 16-bit values.", nameof(dst));
        ref var s = ref MemoryMarshal.GetReference(MemoryMarshal.Cast<float, uint>(src));
        ref var d = ref MemoryMarshal.GetReference(dst);
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 16 <= src.Length; i += 16)
            {
                var lo = Vector256.LoadUnsafe(ref s, (nuint)i);
                var hi = Vector256.LoadUnsafe(ref s, (nuint)(i + 8));
                var packed = dtype == DType.BF16
                    ? Vector256.Narrow(SingleToBFloat16Bits(lo), SingleToBFloat16Bits(hi))
                    : Vector256.Narrow(SingleToHalfBits(lo), SingleToHalfBits(hi));
                packed.StoreUnsafe(ref d, (nuint)i);
            }
        }
        for (; i < src.Length; i++) dst[i] = To16(dtype, src[i]);
    }

    // Eight halves (zero-extended to 32 bits) to float32 bits: the scalar FromHalf, lane by lane.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> HalfToSingleBits(Vector256<uint> h)
    {
        var sign = (h & Vector256.Create(0x8000u)) << 16;
        var em = h & Vector256.Create(0x7FFFu);
        var normal = (em << 13) + Vector256.Create(0x3800_0000u);
        var special = Vector256.Create(0x7F80_0000u) | (em << 13)
                      | (Vector256.GreaterThan(em, Vector256.Create(0x7C00u)) & Vector256.Create(0x40_0000u));
        var sub = (Vector256.ConvertToSingle(em.AsInt32()) * Vector256.Create(1f / (1 << 24))).AsUInt32();
        var r = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(em, Vector256.Create(0x7C00u)), special,
            Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(em, Vector256.Create(0x0400u)), normal, sub));
        return sign | r;
    }

    // Eight float32 bit patterns to bfloat16 bits (in the low half of each lane): the scalar ToBFloat16.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> SingleToBFloat16Bits(Vector256<uint> u)
    {
        var rounded = (u + Vector256.Create(0x7FFFu) + ((u >> 16) & Vector256.Create(1u))) >> 16;
        var nan = Vector256.GreaterThan(u & Vector256.Create(0x7FFF_FFFFu), Vector256.Create(0x7F80_0000u));
        return Vector256.ConditionalSelect(nan, Vector256.Create((uint)BFloat16NaN), rounded);
    }

    // Eight float32 bit patterns to half bits (in the low half of each lane): the scalar ToHalf. Subnormal results come
    // from one float addition: |x| + 0.5 has a unit in the last place of 2^-24, so the hardware's round-to-nearest-even
    // addition rounds |x| to the half subnormal grid, and the low bits of the sum are the half's bits.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> SingleToHalfBits(Vector256<uint> u)
    {
        var sign = (u >> 16) & Vector256.Create(0x8000u);
        var a = u & Vector256.Create(0x7FFF_FFFFu);
        var normal = ((a + Vector256.Create(0xFFFu) + ((a >> 13) & Vector256.Create(1u))) >> 13) - Vector256.Create(0x1_C000u);
        var sub = (a.AsSingle() + Vector256.Create(0.5f)).AsUInt32() - Vector256.Create(0x3F00_0000u);
        var r = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(a, Vector256.Create(0x3880_0000u)), normal, sub);
        r = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(a, Vector256.Create(0x477F_F000u)), Vector256.Create(0x7C00u), r);
        r = Vector256.ConditionalSelect(Vector256.GreaterThan(a, Vector256.Create(0x7F80_0000u)), Vector256.Create((uint)HalfNaN), r);
        return sign | r;
    }
}
