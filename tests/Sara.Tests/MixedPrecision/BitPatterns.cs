// The float32 bit patterns the conversion tests sweep: every upper half (sign, exponent, top 7 mantissa bits) with low
// halves around every rounding boundary of bf16 (bit 15) and f16 (bits 12..23, normal and subnormal), so every tie,
// every carry into the exponent, the overflow edges and the subnormal ranges of both formats are covered.
namespace Sara.Tests.MixedPrecision;

public static class BitPatterns
{
    private static readonly uint[] LowHalves = BuildLowHalves();

    private static uint[] BuildLowHalves()
    {
        var set = new SortedSet<uint> { 0x0000, 0x0001, 0xFFFF, 0xFFFE, 0x7FFF, 0x8000, 0x8001, 0x5555, 0xAAAA };
        for (uint b = 0x1000; b <= 0xF000; b += 0x1000)
        {
            set.Add(b);
            set.Add(b - 1);
            set.Add(b + 1);
        }
        return set.ToArray();
    }

    /// <summary>65,536 upper halves x ~57 low halves: about 3.7 million float32 patterns, NaNs and infinities included.</summary>
    public static uint[] Float32Sweep()
    {
        var all = new uint[65536 * LowHalves.Length];
        var i = 0;
        for (uint hi = 0; hi < 65536; hi++)
            foreach (var lo in LowHalves)
                all[i++] = (hi << 16) | lo;
        return all;
    }

    public static float[] AsFloats(uint[] bits) => Array.ConvertAll(bits, BitConverter.UInt32BitsToSingle);

    /// <summary>All 65,536 16-bit patterns.</summary>
    public static ushort[] All16() => Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();
}
