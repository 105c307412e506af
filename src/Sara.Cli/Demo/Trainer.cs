using System.Diagnostics;
using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Optim;
using Sara.Native.Tensors;

namespace Sara.Cli.Demo;

/// <summary>A data set uploaded once as fixed mini-batches (device tensors) with their host labels.</summary>
internal sealed class DeviceBatches : IDisposable
{
    private readonly List<(Tensor X, int[] Labels)> _batches = new();

    public DeviceBatches(Backend backend, DataSet data, int batchSize)
    {
        using var _ = TensorScope.Suspend();
        for (var start = 0; start < data.Count; start += batchSize)
        {
            var rows = Math.Min(batchSize, data.Count - start);
            var x = backend.FromArray(data.Inputs.AsSpan(start * data.Features, rows * data.Features), rows, data.Features);
            _batches.Add((x, data.Labels[start..(start + rows)]));
        }
    }

    public int Count => _batches.Count;
    public (Tensor X, int[] Labels) this[int i] => _batches[i];

    public void Dispose()
    {
        foreach (var (x, _) in _batches) x.Dispose();
    }
}

/// <summary>What one training run measured: the loss of every step, wall seconds and seconds per step (device synchronised).</summary>
public sealed record TrainRun(float[] Losses, double Seconds)
{
    public double MillisecondsPerStep => Losses.Length == 0 ? 0 : 1000 * Seconds / Losses.Length;

    /// <summary>This run followed by <paramref name="more"/> (its continuation): losses end to end, seconds added.</summary>
    public TrainRun Then(TrainRun more) => new([.. Losses, .. more.Losses], Seconds + more.Seconds);

    /// <summary>Mean training loss over the last <paramref name="window"/> steps.</summary>
    public double FinalLoss(int window = 20) => Losses.Length == 0 ? double.NaN : Losses[^Math.Min(window, Losses.Length)..].Average(v => (double)v);
}

/// <summary>Accuracy and mean softmax cross-entropy of a model on a data set.</summary>
public sealed record Evaluation(double Accuracy, double Loss);

/// <summary>AdamW mini-batch training and evaluation of a <see cref="DemoModel"/> with softmax cross-entropy.</summary>
internal static class Trainer
{
    public static TrainRun Train(Backend backend, DemoModel model, DeviceBatches batches, int steps, AdamWOptions options)
    {
        using var adam = new AdamW(model.Parameters, options);
        return Train(backend, model, batches, steps, adam);
    }

    /// <summary>
    /// <paramref name="steps"/> more steps with an existing optimizer, from batch <paramref name="firstStep"/> on: a run
    /// of a steps continued by b more gives the same bits as one run of a + b steps (tested).
    /// </summary>
    public static TrainRun Train(Backend backend, DemoModel model, DeviceBatches batches, int steps, AdamW adam, int firstStep = 0)
    {
        var losses = new float[steps];
        backend.Synchronize();
        var clock = Stopwatch.StartNew();
        for (var step = 0; step < steps; step++)
        {
            using var scope = new TensorScope();
            var (x, labels) = batches[(firstStep + step) % batches.Count];
            var tape = new Tape();
            var logits = model.Forward(tape, new Variable(x));
            losses[step] = Losses.SoftmaxCrossEntropy(tape, logits, labels);
            tape.Backward();
            adam.Step(tape);
        }
        backend.Synchronize();
        return new TrainRun(losses, clock.Elapsed.TotalSeconds);
    }

    public static Evaluation Evaluate(DemoModel model, DeviceBatches data)
    {
        long correct = 0, count = 0;
        double lossSum = 0;
        for (var b = 0; b < data.Count; b++)
        {
            using var scope = new TensorScope();
            var (x, labels) = data[b];
            var tape = new Tape();
            var logits = model.Forward(tape, new Variable(x));
            lossSum += Losses.SoftmaxCrossEntropy(tape, logits, labels) * (double)labels.Length;
            var values = logits.Value.ToArray();
            int classes = logits.Value.Cols;
            for (var s = 0; s < labels.Length; s++)
                if (ArgMax(values.AsSpan(s * classes, classes)) == labels[s]) correct++;
            count += labels.Length;
        }
        return new Evaluation((double)correct / count, lossSum / count);
    }

    public static int ArgMax(ReadOnlySpan<float> v)
    {
        var best = 0;
        for (var i = 1; i < v.Length; i++)
            if (v[i] > v[best]) best = i;
        return best;
    }

    public static int ArgMax(ReadOnlySpan<double> v)
    {
        var best = 0;
        for (var i = 1; i < v.Length; i++)
            if (v[i] > v[best]) best = i;
        return best;
    }
}
