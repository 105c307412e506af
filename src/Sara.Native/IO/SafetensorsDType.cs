// Element types of the safetensors format and their on-disk names and sizes.
namespace Sara.Native.IO;

/// <summary>An element type a safetensors tensor can have. Only the float types convert to float[].</summary>
public enum SafetensorsDType
{
    Bool, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64,
}

/// <summary>Names, sizes and capabilities of <see cref="SafetensorsDType"/>.</summary>
public static class SafetensorsDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.Bool or SafetensorsDType.U8 or SafetensorsDType.I8
            or SafetensorsDType.F8_E5M2 or SafetensorsDType.F8_E4M3 => 1,
        SafetensorsDType.I16 or SafetensorsDType.U16 or SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.I32 or SafetensorsDType.U32 or SafetensorsDType.F32 => 4,
        SafetensorsDType.F64 or SafetensorsDType.I64 or SafetensorsDType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown safetensors dtype"),
    };

    private static readonly Dictionary<string, SafetensorsDType> ByName =
        Enum.GetValues<SafetensorsDType>().ToDictionary(ToHeaderName, StringComparer.Ordinal);

    /// <summary>The name written in the header ("F32", "BF16", "BOOL", ...).</summary>
    public static string ToHeaderName(SafetensorsDType dtype) =>
        dtype == SafetensorsDType.Bool ? "BOOL" : dtype.ToString();

    /// <summary>Parses a header dtype name (exact, case-sensitive, as the format specifies).</summary>
    public static bool TryParse(string? name, out SafetensorsDType dtype)
    {
        dtype = default;
        return name is not null && ByName.TryGetValue(name, out dtype);
    }

    /// <summary>True for the types <see cref="SafetensorsFile.ReadFloats(string)"/> can read (F32, F16, BF16, F64).</summary>
    public static bool IsReadableAsFloat(SafetensorsDType dtype) =>
        dtype is SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.F64;

    /// <summary>True for the types <see cref="SafetensorsWriter"/> encodes from floats (F32, F16, BF16, F64); any dtype can be added raw.</summary>
    public static bool IsWritable(SafetensorsDType dtype) =>
        dtype is SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.F64;
}
