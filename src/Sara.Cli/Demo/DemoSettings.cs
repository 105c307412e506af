using Sara.Native.Svd;

namespace Sara.Cli.Demo;

/// <summary>
/// The demo's knobs. Steps: adaptation steps per method (pretraining runs <see cref="PretrainSteps"/>). No method has a
/// hand-picked learning rate: each gets the same search over <see cref="LearningRates"/>, every rate trained for
/// <see cref="SearchSteps"/> steps and scored on the validation split (the last <see cref="ValidationCount"/> of the
/// shifted task's training draw, never trained on); the best trial then continues to the full <see cref="Steps"/>.
/// </summary>
public sealed record DemoSettings(string? Device, int Seed, int Steps, string OutputFolder)
{
    public const int DefaultSteps = 600;
    public static readonly int[] Widths = [SyntheticTask.Features, 256, 256, SyntheticTask.Classes];

    public int PretrainSteps => 2 * Steps;
    public int TrainCount { get; init; } = 16384;
    /// <summary>The validation split: an eighth of the shifted training draw (2048 of 16384).</summary>
    public int ValidationCount => Math.Max(1, TrainCount / 8);
    public int TestCount { get; init; } = 4096;
    public int BatchSize { get; init; } = 256;
    public int Experts { get; init; } = 4;
    public RankOptions Rank { get; init; } = new();
    public float PretrainLearningRate { get; init; } = 2e-3f;

    /// <summary>The AdamW learning rates every method tries (a factor of about 3 apart).</summary>
    public IReadOnlyList<float> LearningRates { get; init; } = [1e-3f, 3e-3f, 1e-2f, 3e-2f];

    /// <summary>Steps of each trial of the learning-rate search: a sixth of the adaptation run (at least 1, at most all of it).</summary>
    public int SearchSteps => Math.Clamp(Steps / 6, 1, Steps);

    /// <summary>The fixed LoRA rank everyone uses as a default (PEFT's r = 8); the other LoRA row matches SARA's parameter count.</summary>
    public int LoraRank { get; init; } = 8;

    /// <summary>PEFT's default lora_alpha (scaling alpha / r).</summary>
    public double LoraAlpha { get; init; } = 8;
}
