using Sara.Native.Tensors;

namespace Sara.Native.Backends;

/// <summary>Argument checks shared by every backend: each failure names the argument and the expected shape.</summary>
internal static class Check
{
    public static void Owned(Backend backend, Tensor? t, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (t.IsDisposed) throw new ArgumentException($"Tensor '{name}' {t.ShapeText} was disposed.", name);
        if (!ReferenceEquals(t.Backend, backend))
            throw new ArgumentException($"Tensor '{name}' lives on backend '{t.Backend.Name}', not '{backend.Name}'.", name);
    }

    public static void Matrix(Backend backend, Tensor? t, string name)
    {
        Owned(backend, t, name);
        if (t!.Rank != 2) throw new ArgumentException($"'{name}' must be 2-D; got {t.ShapeText}.", name);
    }

    public static void Vector(Backend backend, Tensor? t, int length, string name)
    {
        Owned(backend, t, name);
        if (t!.Rank != 1 || t.Length != length)
            throw new ArgumentException($"'{name}' must have shape [{length}]; got {t.ShapeText}.", name);
    }

    public static void SameShape(Backend backend, Tensor? t, int[] expected, string name)
    {
        Owned(backend, t, name);
        if (!t!.Shape.AsSpan().SequenceEqual(expected))
            throw new ArgumentException($"'{name}' must have shape [{string.Join(", ", expected)}]; got {t.ShapeText}.", name);
    }

    /// <summary>An output that is also an input of the same call would be read after it is overwritten.</summary>
    public static void NotAliased(Tensor output, Tensor input, string outputName, string inputName)
    {
        if (ReferenceEquals(output, input))
            throw new ArgumentException($"'{outputName}' must not also be an input of the same call ('{inputName}').", outputName);
    }

    public static void Length(int got, long expected, string name)
    {
        if (got != expected) throw new ArgumentException($"'{name}' must have {expected} elements; got {got}.", name);
    }

    public static void Rank(int k, string name)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(name, $"Rank k of '{name}' must be at least 1; got {k}.");
    }
}
