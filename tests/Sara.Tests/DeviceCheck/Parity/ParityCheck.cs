// ParityCheck.cs — one compared quantity of a parity case (NUnit-free: this folder is also compiled into
// bench/Sara.DeviceCheck, so the GPU check runs exactly the cases the emulator tests run).
using Sara.Native.Backends;
using Sara.Native.Tensors;
using Sara.Tests.Support;

namespace Sara.Tests.DeviceCheck.Parity;

/// <summary>||out - ref|| / ||ref|| of one output against the float64 oracle; NaN (an unwritten, poisoned element) fails.</summary>
public sealed record ParityCheck(string Quantity, double RelativeError, double Tolerance)
{
    public bool Passed => RelativeError < Tolerance;

    public static ParityCheck Of(string quantity, float[] got, double[] want, double tolerance) =>
        new(quantity, Oracle.RelErr(got, want), tolerance);

    /// <summary>With the cancellation-aware floor: absWant is the same computation on absolute values (Oracle.RelErr).</summary>
    public static ParityCheck Of(string quantity, float[] got, double[] want, double[] absWant, double tolerance) =>
        new(quantity, Oracle.RelErr(got, want, absWant), tolerance);

    public override string ToString() => $"{Quantity}: relative error {RelativeError:E3} (tolerance {Tolerance:E1})";
}

/// <summary>A named parity case: runs on the given backend with fresh random inputs and returns its checks.</summary>
public sealed record ParityCase(string Family, string Label, Func<Backend, Rand, IReadOnlyList<ParityCheck>> Run)
{
    public override string ToString() => $"{Family} {Label}";
}

public static class Poison
{
    /// <summary>An uninitialised tensor filled with NaN: every element must be written by the op under test.</summary>
    public static Tensor Tensor(Backend backend, params int[] shape) => Tensor(backend, DType.F32, shape);

    /// <summary>As <see cref="Tensor(Backend, int[])"/> in <paramref name="dtype"/> (NaN in every dtype).</summary>
    public static Tensor Tensor(Backend backend, DType dtype, params int[] shape)
    {
        var t = backend.Empty(dtype, shape);
        backend.Fill(t, float.NaN);
        return t;
    }
}
