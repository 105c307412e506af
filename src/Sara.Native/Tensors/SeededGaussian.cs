namespace Sara.Native.Tensors;

/// <summary>
/// Normal random numbers from a seed alone (SplitMix64 + Box–Muller in float64): the same values on every machine and
/// .NET version, so every backend sees identical random matrices (SVD sketches, router initialisation, benchmark data).
/// </summary>
public static class SeededGaussian
{
    /// <summary><paramref name="count"/> values ~ N(0, std^2).</summary>
    public static float[] Normal(long count, double std, int seed)
    {
        var data = new float[count];
        var state = 0x5EED_5A4A_0000_0000UL ^ (ulong)(uint)seed;
        for (long i = 0; i < data.Length; i += 2)
        {
            var u1 = (Next(ref state) >> 11) * (1.0 / (1UL << 53));
            var u2 = (Next(ref state) >> 11) * (1.0 / (1UL << 53));
            var radius = std * Math.Sqrt(-2.0 * Math.Log(1.0 - u1));
            data[i] = (float)(radius * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < data.Length) data[i + 1] = (float)(radius * Math.Sin(2 * Math.PI * u2));
        }
        return data;
    }

    private static ulong Next(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
