namespace Sara.Native.Tensors;

/// <summary>
/// Element type of a <see cref="Tensor"/> (DESIGN 3.1): float32, or one of the two 16-bit floats frozen weights (and,
/// on the CPU backend, activations) may be stored in. Every sum accumulates in float32 whatever the storage type;
/// conversions to 16 bits round to nearest even with PyTorch's bits (<see cref="Precision"/>).
/// </summary>
public enum DType
{
    /// <summary>IEEE binary32: trainable parameters, their gradients and AdamW state are always this.</summary>
    F32,
    /// <summary>bfloat16: float32's upper 16 bits (8-bit exponent, 7 stored mantissa bits).</summary>
    BF16,
    /// <summary>IEEE binary16 (5-bit exponent, 10 stored mantissa bits; largest finite 65504).</summary>
    F16,
}

/// <summary>Sizes and names of <see cref="DType"/>.</summary>
public static class DTypes
{
    /// <summary>Bytes per element: 4 or 2.</summary>
    public static int Size(this DType t) => t switch
    {
        DType.F32 => 4,
        DType.BF16 or DType.F16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>True for BF16 and F16.</summary>
    public static bool Is16Bit(this DType t) => t is DType.BF16 or DType.F16;

    /// <summary>"f32", "bf16" or "f16" (PyTorch's short names), as error messages print it.</summary>
    public static string Name(this DType t) => t switch
    {
        DType.F32 => "f32",
        DType.BF16 => "bf16",
        DType.F16 => "f16",
        _ => t.ToString(),
    };
}
