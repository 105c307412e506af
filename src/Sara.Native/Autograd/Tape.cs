namespace Sara.Native.Autograd;

/// <summary>
/// Records each op's backward closure during the forward; <see cref="Backward"/> walks them once, newest first.
/// Losses write their output gradient at forward time, so Backward needs no seed. One tape per step.
/// </summary>
public sealed class Tape
{
    private static long _passes;
    private readonly List<Action> _backward = new();
    private bool _done;

    public long Pass { get; } = Interlocked.Increment(ref _passes);

    public int Count => _backward.Count;

    public void Record(Action backward) => _backward.Add(backward);

    /// <summary>Adds an externally computed dLoss/dOutput (e.g. from another framework's loss) before <see cref="Backward"/>.</summary>
    public void Seed(Variable output, Tensors.Tensor grad) => output.AddToGrad(this, grad);

    public void Backward()
    {
        if (_done) throw new InvalidOperationException("Backward was already run on this tape; record a new one per step.");
        _done = true;
        for (var i = _backward.Count - 1; i >= 0; i--) _backward[i]();
    }
}
