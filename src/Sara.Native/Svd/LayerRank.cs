namespace Sara.Native.Svd;

/// <summary>
/// What was known of a layer's spectrum when its rank was chosen: Known leading singular values (all min(m, n) for
/// SumFraction), the largest, the one at the chosen rank and the smallest known; Total is the criterion's total
/// (sum s_i, or ||W||_F^2); StableRank = ||W||_F^2 / s_1^2.
/// </summary>
public sealed record SpectrumSummary(int Known, double Largest, double AtRank, double Smallest, double Total,
    double FrobeniusSquared, double StableRank);

/// <summary>
/// One layer of a rank plan: shape (m x n), chosen rank K, the fraction of the criterion's total the leading K values
/// reach (NaN once K was edited by hand), seconds spent, and the spectrum summary. <see cref="Estimate"/> says how a
/// SumFraction total was estimated and how well (null when it is exact: all singular values, or the Frobenius norm).
/// </summary>
public sealed record LayerRank(string Layer, int Rows, int Cols, int K, double FractionReached, double Seconds,
    SpectrumSummary Spectrum, RankCriterion Criterion, double Tau, bool Edited = false, TotalEstimate? Estimate = null)
{
    /// <summary>Trainable parameters of a SARA adapter with A and B trainable: k (m + n) + k.</summary>
    public long AdapterParameters => (long)K * (Rows + Cols) + K;
}
