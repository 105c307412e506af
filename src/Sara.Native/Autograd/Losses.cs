using Sara.Native.Tensors;

namespace Sara.Native.Autograd;

/// <summary>Losses: value returned to the host, gradient written into the prediction at once (the tape's seed).</summary>
public static class Losses
{
    /// <summary>Mean squared error over all elements.</summary>
    public static float Mse(Tape tape, Variable pred, Tensor target)
    {
        var backend = pred.Value.Backend;
        var loss = 0f;
        pred.WriteGrad(tape, grad => loss = backend.MseLoss(pred.Value, target, grad));
        return loss;
    }

    /// <summary>Mean softmax cross-entropy of logits (T x C) against labels.</summary>
    public static float SoftmaxCrossEntropy(Tape tape, Variable logits, ReadOnlySpan<int> labels)
    {
        var backend = logits.Value.Backend;
        var copy = labels.ToArray();
        var loss = 0f;
        logits.WriteGrad(tape, grad => loss = backend.SoftmaxCrossEntropy(logits.Value, copy, grad));
        return loss;
    }
}
