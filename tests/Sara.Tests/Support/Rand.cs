namespace Sara.Tests.Support;

/// <summary>
/// Random test data. <c>new Rand()</c> takes its seed from <see cref="TestSeeds"/>: derived from the run's seed (logged
/// with each test's result; <c>SARA_TEST_SEED</c> forces it), the test's full name and how many generators the test drew
/// before, so a failing test's inputs are replayed by rerunning it with the logged seed. <c>new Rand(seed)</c> is fixed.
/// </summary>
public sealed class Rand
{
    private readonly Random _r;

    public Rand(int? seed = null)
    {
        Seed = seed ?? NextSeed();
        _r = new Random(Seed);
    }

    /// <summary>The seed this generator was built from.</summary>
    public int Seed { get; }

#if SARA_DEVICE_CHECK   // bench/Sara.DeviceCheck compiles this file without NUnit (it passes its printed seed explicitly)
    private static int NextSeed() => Random.Shared.Next();
#else
    private static int NextSeed() => TestSeeds.Next();
#endif

    public float[] Normal(long count, double std = 1.0)
    {
        var a = new float[count];
        for (var i = 0; i < count; i++) a[i] = (float)(std * Gauss());
        return a;
    }

    public float[] Uniform(long count, double lo = -1, double hi = 1)
    {
        var a = new float[count];
        for (var i = 0; i < count; i++) a[i] = (float)(lo + (hi - lo) * _r.NextDouble());
        return a;
    }

    public int Int(int lo, int hiExclusive) => _r.Next(lo, hiExclusive);

    public double Gauss()
    {
        var u1 = 1.0 - _r.NextDouble();
        var u2 = _r.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
