// Independent float64 model of rounding to float16 / bfloat16 (nearest, ties to even), for exact comparisons.
namespace Sara.Tests.IO;

internal static class FloatRoundingOracle
{
    /// <summary>The float16 value nearest to x (10 stored mantissa bits, exponent -14..15, max 65504).</summary>
    public static float ToHalf(float x) => Round(x, mantissaBits: 10, minExponent: -14, maxFinite: 65504.0);

    /// <summary>The bfloat16 value nearest to x (7 stored mantissa bits, float32's exponent range).</summary>
    public static float ToBFloat16(float x) => Round(x, mantissaBits: 7, minExponent: -126, maxFinite: (2.0 - Math.Pow(2, -7)) * Math.Pow(2, 127));

    private static float Round(float x, int mantissaBits, int minExponent, double maxFinite) =>
        float.IsNaN(x) || float.IsInfinity(x) || x == 0 ? x : (float)Round((double)x, mantissaBits, minExponent, maxFinite);

    /// <summary>The bfloat16 value nearest to a float64 x (one rounding, no float32 in between).</summary>
    public static double ToBFloat16(double x) => Round(x, mantissaBits: 7, minExponent: -126, maxFinite: (2.0 - Math.Pow(2, -7)) * Math.Pow(2, 127));

    /// <summary>The float16 value nearest to a float64 x.</summary>
    public static double ToHalf(double x) => Round(x, mantissaBits: 10, minExponent: -14, maxFinite: 65504.0);

    /// <summary>Distance between consecutive representable values at x (mantissaBits stored bits, exponent floor minExponent).</summary>
    public static double Ulp(double x, bool bfloat16) =>
        Math.ScaleB(1.0, Math.Max(Math.ILogB(x), bfloat16 ? -126 : -14) - (bfloat16 ? 7 : 10));

    private static double Round(double xd, int mantissaBits, int minExponent, double maxFinite)
    {
        if (double.IsNaN(xd) || double.IsInfinity(xd) || xd == 0) return xd;
        int e = Math.Max(Math.ILogB(xd), minExponent);
        double quantum = Math.ScaleB(1.0, e - mantissaBits);
        double r = Math.Round(xd / quantum, MidpointRounding.ToEven) * quantum;
        if (Math.Abs(r) > maxFinite) return r > 0 ? double.PositiveInfinity : double.NegativeInfinity;
        if (r == 0) return xd < 0 ? -0.0 : 0.0;
        return r;
    }

    /// <summary>The value a tensor of <paramref name="dtype"/> stores for x.</summary>
    public static float Stored(Sara.Native.IO.SafetensorsDType dtype, float x) => dtype switch
    {
        Sara.Native.IO.SafetensorsDType.F16 => ToHalf(x),
        Sara.Native.IO.SafetensorsDType.BF16 => ToBFloat16(x),
        _ => x,
    };

    /// <summary>Bitwise equality, with every NaN equal to every NaN.</summary>
    public static bool SameFloat(float a, float b) =>
        (float.IsNaN(a) && float.IsNaN(b)) || BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b);
}
