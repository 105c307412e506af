namespace Sara.Native.Svd;

/// <summary>How a layer's adapter rank is read off its spectrum (DESIGN 1.1).</summary>
public enum RankCriterion
{
    /// <summary>Smallest k with sum_{i&lt;=k} s_i &gt;= tau * sum_i s_i (the paper's criterion; needs the whole spectrum).</summary>
    SumFraction,

    /// <summary>The same with s_i^2; the total is ||W||_F^2, so only the leading kMax values are computed.</summary>
    EnergyFraction,
}

/// <summary>Where SumFraction's total sum_i s_i comes from.</summary>
public enum SpectrumMode
{
    /// <summary>Exact when the matrix is small enough that the estimate would not save work (see <see cref="RankOptions.UsesExactSpectrum"/>), else estimated.</summary>
    Auto,

    /// <summary>All singular values from the vendor solver (LAPACK / cuSOLVER): the reference path.</summary>
    Exact,

    /// <summary>The leading values from the block Krylov SVD plus a block Lanczos quadrature of the rest (<see cref="NuclearNorm"/>).</summary>
    Estimated,
}

/// <summary>
/// Rank-plan settings. Tau in (0, 1]; k is clamped to [KMin, KMax] and to min(m, n). The default Tau was measured
/// (see Svd/README.md) to land in the usual LoRA range, 4 to 64, on real pretrained weights.
/// <see cref="Spectrum"/> picks exact or estimated SumFraction totals; <see cref="Krylov"/> configures the block Krylov
/// SVD and the quadrature; <see cref="Seed"/> fixes their random sketches (combined with each layer's name).
/// Oversampling and PowerIterations configure <see cref="TruncatedSvd"/> where it is still used (explicit SvdOptions).
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
    public SpectrumMode Spectrum { get; init; } = SpectrumMode.Auto;
    public KrylovOptions Krylov { get; init; } = new();

    /// <summary>
    /// Whether a SumFraction plan of an m x n layer takes the exact spectrum: always for <see cref="SpectrumMode.Exact"/>;
    /// for Auto when min(m, n) is below the Krylov basis plus twice the quadrature's Lanczos space (the estimate would not
    /// save work there). The Krylov basis may still cover the whole short side, which makes the values exact anyway.
    /// </summary>
    public bool UsesExactSpectrum(int rows, int cols)
    {
        var d = Math.Min(rows, cols);
        return Spectrum switch
        {
            SpectrumMode.Exact => true,
            SpectrumMode.Estimated => false,
            _ => d < Krylov.Width(Math.Min(KMax, d)) + 2 * Krylov.Probes * Krylov.LanczosSteps,
        };
    }

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
        if (!Enum.IsDefined(Spectrum)) throw new ArgumentOutOfRangeException(nameof(Spectrum), $"Unknown spectrum mode {(int)Spectrum}.");
        ArgumentNullException.ThrowIfNull(Krylov, nameof(Krylov));
        Krylov.Validate();
    }
}
