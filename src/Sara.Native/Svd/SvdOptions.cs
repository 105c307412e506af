namespace Sara.Native.Svd;

/// <summary>
/// Randomized truncated SVD settings. Rank k; the sketch has l = min(k + Oversampling, min(m, n)) columns;
/// PowerIterations subspace iterations sharpen it (each costs two passes over W); Seed fixes the random sketch
/// (same seed, same backend -> same bits).
/// </summary>
public sealed record SvdOptions(int Rank, int Oversampling = 10, int PowerIterations = 2, int Seed = 0)
{
    /// <summary>Throws ArgumentOutOfRangeException naming the bad field.</summary>
    public void Validate()
    {
        if (Rank < 1) throw new ArgumentOutOfRangeException(nameof(Rank), $"Rank must be at least 1; got {Rank}.");
        if (Oversampling < 0) throw new ArgumentOutOfRangeException(nameof(Oversampling), $"Oversampling must be >= 0; got {Oversampling}.");
        if (PowerIterations < 0)
            throw new ArgumentOutOfRangeException(nameof(PowerIterations), $"PowerIterations must be >= 0; got {PowerIterations}.");
    }
}
