namespace Sara.Native.Svd;

/// <summary>How a layer's adapter rank is read off its spectrum (DESIGN 1.1).</summary>
public enum RankCriterion
{
    /// <summary>Smallest k with sum_{i&lt;=k} s_i &gt;= tau * sum_i s_i (the paper's criterion; needs the whole spectrum).</summary>
    SumFraction,

    /// <summary>The same with s_i^2; the total is ||W||_F^2, so only the leading kMax values are computed.</summary>
    EnergyFraction,
}

/// <summary>
/// Rank-plan settings. Tau in (0, 1]; k is clamped to [KMin, KMax] and to min(m, n). The default Tau was measured
/// (see Svd/README.md) to land in the usual LoRA range, 4 to 64, on real pretrained weights.
/// Oversampling, PowerIterations and Seed configure the truncated SVD of the EnergyFraction path.
/// </summary>
public sealed record RankOptions(RankCriterion Criterion = RankCriterion.SumFraction, double Tau = RankOptions.DefaultTau,
    int KMin = RankOptions.DefaultKMin, int KMax = RankOptions.DefaultKMax)
{
    public const double DefaultTau = 0.2;
    public const int DefaultKMin = 4;
    public const int DefaultKMax = 256;

    public int Oversampling { get; init; } = 10;
    public int PowerIterations { get; init; } = 2;
    public int Seed { get; init; }

    /// <summary>Throws an ArgumentException-family error naming the bad field.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Criterion)) throw new ArgumentOutOfRangeException(nameof(Criterion), $"Unknown criterion {(int)Criterion}.");
        if (!(Tau > 0 && Tau <= 1)) throw new ArgumentOutOfRangeException(nameof(Tau), $"Tau must be in (0, 1]; got {Tau}.");
        if (KMin < 1) throw new ArgumentOutOfRangeException(nameof(KMin), $"KMin must be at least 1; got {KMin}.");
        if (KMax < KMin) throw new ArgumentException($"KMin ({KMin}) must not exceed KMax ({KMax}).", nameof(KMin));
        if (Oversampling < 0) throw new ArgumentOutOfRangeException(nameof(Oversampling), $"Oversampling must be >= 0; got {Oversampling}.");
        if (PowerIterations < 0)
            throw new ArgumentOutOfRangeException(nameof(PowerIterations), $"PowerIterations must be >= 0; got {PowerIterations}.");
    }
}
