namespace Sara.Tests.Support;

/// <summary>Fresh random test data: a new seed per call unless one is given (printed on failure through the test name).</summary>
public sealed class Rand(int? seed = null)
{
    private readonly Random _r = new(seed ?? Random.Shared.Next());

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
