namespace Sara.Native.Svd;

/// <summary>
/// Settings of the one-pass rank plan and initialisation (<see cref="SpectrumSketch"/>): a randomized block Krylov SVD
/// (block size <see cref="BlockSize"/>, basis width L = the wanted values + <see cref="Oversampling"/>, rounded up to
/// whole blocks) and, for SumFraction, the block Lanczos quadrature of the remainder (<see cref="Probes"/> probe vectors,
/// <see cref="LanczosSteps"/> blocks). The defaults were chosen by measurement (Svd/README.md, "Accuracy the time buys").
/// </summary>
public sealed record KrylovOptions
{
    public const int DefaultBlockSize = 64;
    public const int DefaultOversampling = 256;
    public const int DefaultProbes = 32;
    public const int DefaultLanczosSteps = 10;

    public int BlockSize { get; init; } = DefaultBlockSize;
    public int Oversampling { get; init; } = DefaultOversampling;
    public int Probes { get; init; } = DefaultProbes;
    public int LanczosSteps { get; init; } = DefaultLanczosSteps;

    /// <summary>Throws ArgumentOutOfRangeException naming the bad field.</summary>
    public void Validate()
    {
        if (BlockSize < 1) throw new ArgumentOutOfRangeException(nameof(BlockSize), $"BlockSize must be >= 1; got {BlockSize}.");
        if (Oversampling < 0) throw new ArgumentOutOfRangeException(nameof(Oversampling), $"Oversampling must be >= 0; got {Oversampling}.");
        if (Probes < 2) throw new ArgumentOutOfRangeException(nameof(Probes), $"Probes must be >= 2 (the standard error needs two); got {Probes}.");
        if (LanczosSteps < 2) throw new ArgumentOutOfRangeException(nameof(LanczosSteps), $"LanczosSteps must be >= 2; got {LanczosSteps}.");
    }

    /// <summary>Basis width for <paramref name="wanted"/> leading values: wanted + Oversampling, rounded up to whole blocks.</summary>
    public int Width(int wanted) => (wanted + Oversampling + BlockSize - 1) / BlockSize * BlockSize;
}
