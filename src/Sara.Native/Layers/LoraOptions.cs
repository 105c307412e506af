namespace Sara.Native.Layers;

/// <summary>
/// A LoRA layer as PEFT builds it (<c>LoraConfig</c>): rank r, <c>lora_alpha</c> (PEFT's default 8), scaling
/// alpha / r (alpha / sqrt(r) with <see cref="UseRslora"/>); <see cref="Seed"/> draws lora_A's initial values.
/// </summary>
public sealed record LoraOptions
{
    public int Rank { get; init; } = 8;
    public double Alpha { get; init; } = 8;
    public bool UseRslora { get; init; }
    public int Seed { get; init; }
    public bool TrainBias { get; init; }

    /// <summary>alpha / r, or alpha / sqrt(r) with rsLoRA.</summary>
    public double Scaling => UseRslora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank;

    public void Validate()
    {
        if (Rank < 1) throw new ArgumentOutOfRangeException(nameof(Rank), Rank, "the LoRA rank must be >= 1");
        if (!double.IsFinite(Alpha)) throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "lora_alpha must be finite");
    }
}
