using Sara.Native.Svd;
using Sara.Native.Tensors;

namespace Sara.Native.Layers;

/// <summary>
/// How a SARA layer is built and trained. Rank: chosen by <see cref="Rank"/> from W0's spectrum unless
/// <see cref="FixedRank"/> is set. Scale s multiplies the adapter path. A and B train unless <see cref="TrainFactors"/>
/// is false; <see cref="OrthogonalityWeight"/> (gamma) enables the penalty on them. <see cref="W0DType"/> stores a W0 given
/// as float[] in 16 bits (a W0 given as a tensor keeps its own dtype); A, B, lambda and the bias are always float32.
/// </summary>
public sealed record SaraOptions
{
    public RankOptions Rank { get; init; } = new();
    public int? FixedRank { get; init; }
    public float Scale { get; init; } = 1f;
    public bool TrainFactors { get; init; } = true;
    public bool TrainBias { get; init; }
    public float OrthogonalityWeight { get; init; }
    public SvdOptions? Svd { get; init; }
    public DType W0DType { get; init; } = DType.F32;

    public void Validate()
    {
        Rank.Validate();
        if (FixedRank is < 1) throw new ArgumentOutOfRangeException(nameof(FixedRank), $"FixedRank must be >= 1; got {FixedRank}.");
        if (!float.IsFinite(Scale)) throw new ArgumentOutOfRangeException(nameof(Scale), "Scale must be finite.");
        if (!(OrthogonalityWeight >= 0) || !float.IsFinite(OrthogonalityWeight))
            throw new ArgumentOutOfRangeException(nameof(OrthogonalityWeight), "OrthogonalityWeight must be finite and >= 0.");
        if (!Enum.IsDefined(W0DType)) throw new ArgumentOutOfRangeException(nameof(W0DType), $"Unknown dtype {W0DType}.");
    }
}
