namespace Sara.Cli.Demo;

/// <summary>A labelled data set on the host: inputs (Count x Features, row-major) and class labels.</summary>
public sealed record DataSet(float[] Inputs, int[] Labels, int Count, int Features, int Classes)
{
    /// <summary>The first <paramref name="count"/> examples and the rest (e.g. a training and a validation split).</summary>
    public (DataSet First, DataSet Remainder) Split(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(count, Count);
        return (new DataSet(Inputs[..(count * Features)], Labels[..count], count, Features, Classes),
            new DataSet(Inputs[(count * Features)..], Labels[count..], Count - count, Features, Classes));
    }
}

/// <summary>
/// The demo's synthetic classification tasks. Inputs x ~ N(0, I_d). A random teacher network labels them:
/// class = argmax(T2 tanh(T1 x)). The SHIFTED task uses the same input distribution and a teacher whose first layer is
/// T1 + Delta, Delta a random rank-<see cref="ShiftRank"/> matrix with ||Delta||_F = <see cref="ShiftStrength"/> ||T1||_F —
/// a low-rank change of the input-to-feature map, the kind of shift a low-rank adapter is meant to absorb.
/// Everything is drawn from one seed, so a test can rebuild the exact data of a run.
/// </summary>
public sealed class SyntheticTask
{
    public const int Features = 32;
    public const int TeacherHidden = 64;
    public const int Classes = 8;
    public const int ShiftRank = 4;
    public const double ShiftStrength = 0.6;

    private readonly float[] _t1, _t1Shifted, _t2;

    public SyntheticTask(int seed)
    {
        Seed = seed;
        var rng = new Random(seed);
        _t1 = Gaussian(rng, TeacherHidden * Features, 1.0 / Math.Sqrt(Features));
        _t2 = Gaussian(rng, Classes * TeacherHidden, 2.0 / Math.Sqrt(TeacherHidden));
        var u = Gaussian(rng, TeacherHidden * ShiftRank, 1);
        var v = Gaussian(rng, ShiftRank * Features, 1);
        var delta = new double[TeacherHidden * Features];
        for (var i = 0; i < TeacherHidden; i++)
            for (var j = 0; j < Features; j++)
            {
                double acc = 0;
                for (var r = 0; r < ShiftRank; r++) acc += u[i * ShiftRank + r] * v[r * Features + j];
                delta[i * Features + j] = acc;
            }
        var scale = ShiftStrength * Norm(_t1) / Math.Sqrt(delta.Sum(d => d * d));
        _t1Shifted = _t1.Select((w, i) => (float)(w + scale * delta[i])).ToArray();
    }

    public int Seed { get; }

    /// <summary>Source (pretraining) task: train, test. Shifted task: train, test. Disjoint draws of x.</summary>
    public (DataSet SourceTrain, DataSet SourceTest, DataSet ShiftTrain, DataSet ShiftTest) Build(int trainCount, int testCount)
    {
        var rng = new Random(Seed + 7919);
        return (Make(rng, trainCount, _t1), Make(rng, testCount, _t1), Make(rng, trainCount, _t1Shifted), Make(rng, testCount, _t1Shifted));
    }

    /// <summary>Fraction of <paramref name="data"/>'s inputs whose label differs between the source and the shifted teacher.</summary>
    public double LabelChangeFraction(DataSet data)
    {
        var changed = 0;
        for (var s = 0; s < data.Count; s++)
        {
            var x = data.Inputs.AsSpan(s * Features, Features);
            if (Label(x, _t1) != Label(x, _t1Shifted)) changed++;
        }
        return (double)changed / data.Count;
    }

    private DataSet Make(Random rng, int count, float[] t1)
    {
        var x = Gaussian(rng, count * Features, 1);
        var labels = new int[count];
        for (var s = 0; s < count; s++) labels[s] = Label(x.AsSpan(s * Features, Features), t1);
        return new DataSet(x, labels, count, Features, Classes);
    }

    private int Label(ReadOnlySpan<float> x, float[] t1)
    {
        Span<double> h = stackalloc double[TeacherHidden];
        for (var i = 0; i < TeacherHidden; i++)
        {
            double acc = 0;
            for (var j = 0; j < Features; j++) acc += (double)t1[i * Features + j] * x[j];
            h[i] = Math.Tanh(acc);
        }
        int best = 0;
        double bestLogit = double.NegativeInfinity;
        for (var c = 0; c < Classes; c++)
        {
            double acc = 0;
            for (var i = 0; i < TeacherHidden; i++) acc += (double)_t2[c * TeacherHidden + i] * h[i];
            if (acc > bestLogit) (best, bestLogit) = (c, acc);
        }
        return best;
    }

    internal static float[] Gaussian(Random rng, int count, double std)
    {
        var data = new float[count];
        for (var i = 0; i < count; i++)
            data[i] = (float)(std * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        return data;
    }

    private static double Norm(float[] a) => Math.Sqrt(a.Sum(v => (double)v * v));
}
