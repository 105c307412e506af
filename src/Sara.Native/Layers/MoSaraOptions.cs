using Sara.Native.Svd;
using Sara.Native.Tensors;

namespace Sara.Native.Layers;

/// <summary>
/// Mo-SARA options: the same rank plan as SARA, <see cref="Experts"/> singular-value vectors mixed per token by a router
/// over the low-rank projection, optionally keeping only the top <see cref="TopK"/> experts (0 = dense softmax).
/// </summary>
public sealed record MoSaraOptions
{
    public RankOptions Rank { get; init; } = new();
    public int? FixedRank { get; init; }
    public int Experts { get; init; } = 4;
    public int TopK { get; init; }
    public float Scale { get; init; } = 1f;
    public int RouterSeed { get; init; } = 1234;
    public float RouterInitStd { get; init; } = 0.02f;
    public float BalanceWeight { get; init; }
    public SvdOptions? Svd { get; init; }

    /// <summary>Storage of a W0 given as float[] (a W0 given as a tensor keeps its dtype).</summary>
    public DType W0DType { get; init; } = DType.F32;

    /// <summary>Storage of the frozen A and B (f32, bf16 or f16, on every backend).</summary>
    public DType FactorDType { get; init; } = DType.F32;

    /// <summary>Copy the gates to the host after each forward for <see cref="MoSaraLinear.LastRouterStats"/> (a sync on the GPU).</summary>
    public bool CollectRouterStats { get; init; } = true;

    /// <summary>Check the router's inputs for NaN/Inf on every step and name the tensor (downloads them: for debugging).</summary>
    public bool CheckFinite { get; init; }

    public void Validate()
    {
        Rank.Validate();
        if (Experts < 1) throw new ArgumentOutOfRangeException(nameof(Experts), $"Experts must be >= 1; got {Experts}.");
        if (TopK < 0 || TopK > Experts)
            throw new ArgumentOutOfRangeException(nameof(TopK), $"TopK must be 0 (dense) or in [1, {Experts}]; got {TopK}.");
        if (FixedRank is < 1) throw new ArgumentOutOfRangeException(nameof(FixedRank), $"FixedRank must be >= 1; got {FixedRank}.");
        if (!float.IsFinite(Scale)) throw new ArgumentOutOfRangeException(nameof(Scale), "Scale must be finite.");
        if (!(BalanceWeight >= 0) || !float.IsFinite(BalanceWeight))
            throw new ArgumentOutOfRangeException(nameof(BalanceWeight), "BalanceWeight must be finite and >= 0.");
        if (!(RouterInitStd >= 0) || !float.IsFinite(RouterInitStd))
            throw new ArgumentOutOfRangeException(nameof(RouterInitStd), "RouterInitStd must be finite and >= 0.");
        if (!Enum.IsDefined(W0DType)) throw new ArgumentOutOfRangeException(nameof(W0DType), $"Unknown dtype {W0DType}.");
        if (!Enum.IsDefined(FactorDType)) throw new ArgumentOutOfRangeException(nameof(FactorDType), $"Unknown dtype {FactorDType}.");
    }
}
