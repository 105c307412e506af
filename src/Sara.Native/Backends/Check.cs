using System.Runtime.CompilerServices;
using Sara.Native.Tensors;

namespace Sara.Native.Backends;

/// <summary>
/// Argument checks shared by every backend: each failure names the op, the argument and the expected shape or dtype.
/// Every tensor argument must be float32 unless the op passes <c>any16: true</c> for it (DESIGN 3.1: 16-bit tensors
/// enter the GEMMs, copies and conversions, and the activation ops that say so).
/// </summary>
internal static class Check
{
    public static void Owned(Backend backend, Tensor? t, string name, bool any16 = false, [CallerMemberName] string op = "")
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (t.IsDisposed) throw new ArgumentException($"Tensor '{name}' {t.ShapeText} was disposed.", name);
        if (!ReferenceEquals(t.Backend, backend))
            throw new ArgumentException($"Tensor '{name}' lives on backend '{t.Backend.Name}', not '{backend.Name}'.", name);
        if (!any16 && t.DType != DType.F32)
            throw new ArgumentException($"{op}: '{name}' must be f32; got {t.Describe}. 16-bit tensors enter only the GEMMs, " +
                                        "copies, conversions and the activation ops that take them (DESIGN 3.1); convert with Backend.Convert.", name);
    }

    public static void Matrix(Backend backend, Tensor? t, string name, bool any16 = false, [CallerMemberName] string op = "")
    {
        Owned(backend, t, name, any16, op);
        if (t!.Rank != 2) throw new ArgumentException($"'{name}' must be 2-D; got {t.ShapeText}.", name);
    }

    public static void Vector(Backend backend, Tensor? t, int length, string name, bool any16 = false, [CallerMemberName] string op = "")
    {
        Owned(backend, t, name, any16, op);
        if (t!.Rank != 1 || t.Length != length)
            throw new ArgumentException($"'{name}' must have shape [{length}]; got {t.ShapeText}.", name);
    }

    public static void SameShape(Backend backend, Tensor? t, int[] expected, string name, bool any16 = false, [CallerMemberName] string op = "")
    {
        Owned(backend, t, name, any16, op);
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

    public static void Is16Bit(DType dtype, string name, [CallerMemberName] string op = "")
    {
        if (!dtype.Is16Bit()) throw new ArgumentException($"{op}: '{name}' must be a 16-bit dtype (bf16 or f16); got {dtype.Name()}.", name);
    }
}
