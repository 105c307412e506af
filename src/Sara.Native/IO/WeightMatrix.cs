// A candidate weight for rank analysis: an m x n (out x in) view of a stored tensor, loaded on demand.
namespace Sara.Native.IO;

/// <summary>How the stored tensor maps onto the m x n matrix.</summary>
public enum WeightLayout
{
    /// <summary>A 2-D weight stored out x in, used as is.</summary>
    Linear,
    /// <summary>A 2-D weight stored in x out (ONNX MatMul, Gemm without transB), transposed on load.</summary>
    LinearTransposed,
    /// <summary>A 4-D conv weight out x in x kh x kw, read as out x (in*kh*kw).</summary>
    Conv,
}

/// <summary>One selectable weight matrix. <see cref="Load()"/> reads and converts its data each time it is called.</summary>
public sealed class WeightMatrix
{
    private readonly Func<float[]> _read;
    private readonly ReadInto? _readInto;

    /// <summary>Converts the stored tensor (stored order) into the destination span.</summary>
    internal delegate void ReadInto(Span<float> destination);

    /// <summary>
    /// The name it is listed under: the tensor's name, or for an ONNX initializer named by a bare number the module
    /// path of the node that consumes it (<see cref="OnnxWeights.DisplayNameOf"/>).
    /// </summary>
    public string Name { get; }

    /// <summary>The name of the stored tensor (differs from <see cref="Name"/> only for renamed ONNX initializers).</summary>
    public string StoredName { get; }

    /// <summary>The module it belongs to, as PEFT names modules: <see cref="Name"/> without a trailing ".weight".</summary>
    public string Module => Name.EndsWith(".weight", StringComparison.Ordinal) ? Name[..^7] : Name;

    /// <summary>True when the model uses it as an embedding table (an ONNX Gather reads it).</summary>
    public bool IsEmbeddingTable { get; }

    /// <summary>m: output features (rows).</summary>
    public int Rows { get; }

    /// <summary>n: input features (columns), for a conv in*kh*kw.</summary>
    public int Cols { get; }

    /// <summary>The tensor's shape as stored.</summary>
    public IReadOnlyList<long> StoredShape { get; }

    public WeightLayout Layout { get; }

    internal WeightMatrix(string name, IReadOnlyList<long> storedShape, WeightLayout layout, Func<float[]> readStored,
        ReadInto? readStoredInto = null, string? storedName = null, bool isEmbeddingTable = false)
    {
        Name = name;
        StoredName = storedName ?? name;
        IsEmbeddingTable = isEmbeddingTable;
        _readInto = readStoredInto;
        StoredShape = storedShape;
        Layout = layout;
        _read = readStored;
        (long rows, long cols) = layout switch
        {
            WeightLayout.LinearTransposed => (storedShape[1], storedShape[0]),
            WeightLayout.Linear => (storedShape[0], storedShape[1]),
            _ => (storedShape[0], storedShape.Skip(1).Aggregate(1L, (a, d) => d != 0 && a > int.MaxValue / d ? long.MaxValue : a * d)),
        };
        if (rows > int.MaxValue || cols > int.MaxValue)
            throw new NotSupportedException($"weight '{SafeText.Name(name)}' stored as [{string.Join(", ", storedShape)}] has more than {int.MaxValue} rows or columns");
        Rows = (int)rows;
        Cols = (int)cols;
    }

    /// <summary>The matrix, row-major Rows x Cols (transposed from storage where <see cref="Layout"/> says so).</summary>
    public float[] Load()
    {
        float[] stored = _read();
        if (stored.LongLength != (long)Rows * Cols)
            throw new InvalidDataException($"weight '{SafeText.Name(Name)}': read {stored.LongLength} values, expected {Rows} x {Cols}");
        if (Layout != WeightLayout.LinearTransposed) return stored;
        // stored is Cols x Rows; result[r, c] = stored[c, r]
        var result = new float[stored.Length];
        for (int c = 0; c < Cols; c++)
            for (int r = 0; r < Rows; r++)
                result[(long)r * Cols + c] = stored[(long)c * Rows + r];
        return result;
    }

    /// <summary>
    /// The matrix into <paramref name="destination"/> (Rows x Cols, row-major), without allocating a copy when the source
    /// converts into a span and no transpose is needed (safetensors, read with positioned reads).
    /// </summary>
    public void Load(Span<float> destination)
    {
        if (destination.Length != (long)Rows * Cols)
            throw new ArgumentException($"weight '{Name}': destination holds {destination.Length} floats, expected {Rows} x {Cols}", nameof(destination));
        if (_readInto is not null && Layout != WeightLayout.LinearTransposed) _readInto(destination);
        else Load().CopyTo(destination);
    }

    public override string ToString() =>
        $"{Name}: {Rows} x {Cols} ({Layout}, stored [{string.Join(", ", StoredShape)}])";
}
