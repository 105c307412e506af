using Sara.Native.Svd;

namespace Sara.Cli.Demo;

/// <summary>
/// The demo's knobs. Steps: adaptation steps per method (pretraining runs <see cref="PretrainSteps"/>). Learning rates
/// are per method because the parameters differ in kind: dense weights (full fine-tuning) move in weight units, SARA's
/// lambda and Mo-SARA's experts in singular-value units starting from zero.
/// </summary>
public sealed record DemoSettings(string? Device, int Seed, int Steps, string OutputFolder)
{
    public const int DefaultSteps = 600;
    public static readonly int[] Widths = [SyntheticTask.Features, 256, 256, SyntheticTask.Classes];

    public int PretrainSteps => 2 * Steps;
    public int TrainCount { get; init; } = 16384;
    public int TestCount { get; init; } = 4096;
    public int BatchSize { get; init; } = 256;
    public int Experts { get; init; } = 4;
    public RankOptions Rank { get; init; } = new();
    public float PretrainLearningRate { get; init; } = 2e-3f;
    public float FullLearningRate { get; init; } = 1e-3f;
    public float SaraLearningRate { get; init; } = 5e-3f;
    public float MoSaraLearningRate { get; init; } = 3e-2f;
}
