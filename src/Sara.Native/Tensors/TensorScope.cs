namespace Sara.Native.Tensors;

/// <summary>
/// Collects every tensor created while it is the innermost scope on this thread and disposes them together
/// (one scope per training step). <see cref="Keep"/> moves a tensor out so it survives the scope.
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;
    private readonly TensorScope? _parent;
    private readonly List<Tensor> _owned = new();
    private bool _disposed;

    public TensorScope()
    {
        _parent = _current;
        _current = this;
    }

    public static TensorScope? Current => _current;

    /// <summary>While the returned handle lives, new tensors belong to no scope (parameters, optimiser state).</summary>
    public static IDisposable Suspend() => new Suspension();

    private sealed class Suspension : IDisposable
    {
        private readonly TensorScope? _saved = _current;
        private bool _done;

        public Suspension() => _current = null;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _current = _saved;
        }
    }

    internal void Track(Tensor t) => _owned.Add(t);

    /// <summary>Detaches <paramref name="t"/> from this scope (it moves to the parent scope, if any).</summary>
    public Tensor Keep(Tensor t)
    {
        if (_owned.Remove(t)) _parent?.Track(t);
        return t;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
        _current = _parent;
    }
}
