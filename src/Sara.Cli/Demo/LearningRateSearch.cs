using Sara.Native.Backends;
using Sara.Native.Optim;

namespace Sara.Cli.Demo;

/// <summary>One trial of the search: a learning rate and the validation figures it reached.</summary>
public sealed record RateTrial(float Rate, Evaluation Validation);

/// <summary>The rate chosen for a method and every trial behind the choice.</summary>
public sealed record SearchResult(float Chosen, IReadOnlyList<RateTrial> Trials);

/// <summary>The chosen trial, still alive: its model, its optimizer state and the steps it ran, ready to be continued.</summary>
internal sealed class SearchWinner(DemoModel model, AdamW optimizer, TrainRun run) : IDisposable
{
    public DemoModel Model { get; } = model;
    public AdamW Optimizer { get; } = optimizer;
    public TrainRun Run { get; } = run;

    public void Dispose()
    {
        Optimizer.Dispose();
        Model.Dispose();
    }
}

/// <summary>
/// The same small learning-rate search for every method: a fresh model per rate (same initial weights each time),
/// <see cref="DemoSettings.SearchSteps"/> AdamW steps, then accuracy and loss on the validation split. The best
/// validation accuracy wins; ties go to the lower validation loss (a diverged run's NaN loss counts as worst), then to the
/// smaller rate. The winner is returned alive so the full run continues it instead of repeating its first steps (the
/// same bits as a fresh run). Deterministic: the same bits on every run.
/// </summary>
internal static class LearningRateSearch
{
    public static (SearchResult Result, SearchWinner Winner) Run(Backend backend, Func<DemoModel> build, DeviceBatches train,
        DeviceBatches validation, DemoSettings s)
    {
        var trials = new List<RateTrial>();
        SearchWinner? best = null;
        RateTrial? bestTrial = null;
        foreach (var rate in s.LearningRates)
        {
            var model = build();
            var adam = new AdamW(model.Parameters, new AdamWOptions(rate));
            var candidate = new SearchWinner(model, adam, Trainer.Train(backend, model, train, s.SearchSteps, adam));
            var trial = new RateTrial(rate, Trainer.Evaluate(model, validation));
            trials.Add(trial);
            if (bestTrial is null || Better(trial, bestTrial))
            {
                best?.Dispose();
                (best, bestTrial) = (candidate, trial);
            }
            else candidate.Dispose();
        }
        return (new SearchResult(bestTrial!.Rate, trials), best!);
    }

    /// <summary>Higher validation accuracy; on a tie the lower loss (NaN worst); the earlier (smaller) rate keeps a full tie.</summary>
    private static bool Better(RateTrial a, RateTrial b)
    {
        if (a.Validation.Accuracy != b.Validation.Accuracy) return a.Validation.Accuracy > b.Validation.Accuracy;
        static double Loss(RateTrial t) => double.IsNaN(t.Validation.Loss) ? double.PositiveInfinity : t.Validation.Loss;
        return Loss(a) < Loss(b);
    }
}
