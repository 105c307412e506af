using System.CommandLine;
using System.Globalization;
using Sara.Native.Svd;

namespace Sara.Cli.Commands;

/// <summary>Options several commands share (device, rank plan) and their validation, with messages naming the option.</summary>
internal static class CommonOptions
{
    public static Option<string?> Device() => new("--device")
    {
        Description = "cpu, emu (CUDA kernels on the host emulator) or cuda; default: SARA_DEVICE, else the GPU if present, else cpu",
    };

    public static Option<double> Threshold() => Validated(new Option<double>("--threshold", "--tau")
    {
        Description = "fraction tau in (0, 1] of the criterion's total that the leading k singular values must reach",
        DefaultValueFactory = _ => RankOptions.DefaultTau,
    }, v => v > 0 && v <= 1, v => $"--threshold must be in (0, 1]; got {v.ToString(CultureInfo.InvariantCulture)}");

    public static Option<string> Criterion() => Validated(new Option<string>("--criterion")
    {
        Description = "sum (sum of s_i, the paper's; its total estimated on large layers, see --exact) or energy (sum of s_i^2)",
        DefaultValueFactory = _ => "sum",
    }, v => TryParseCriterion(v, out _), v => $"unknown --criterion '{v}'; expected sum or energy");

    public static Option<int> MinRank() => Validated(new Option<int>("--min-rank")
    {
        Description = "smallest rank k per layer",
        DefaultValueFactory = _ => RankOptions.DefaultKMin,
    }, v => v >= 1, v => $"--min-rank must be >= 1; got {v}");

    public static Option<int> MaxRank() => Validated(new Option<int>("--max-rank")
    {
        Description = "largest rank k per layer",
        DefaultValueFactory = _ => RankOptions.DefaultKMax,
    }, v => v >= 1, v => $"--max-rank must be >= 1; got {v}");

    public static bool TryParseCriterion(string? text, out RankCriterion criterion)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "sum" or "sumfraction":
                criterion = RankCriterion.SumFraction;
                return true;
            case "energy" or "energyfraction":
                criterion = RankCriterion.EnergyFraction;
                return true;
            default:
                criterion = default;
                return false;
        }
    }

    /// <summary>Rank options from the parsed values; min &gt; max is a user error naming both options.</summary>
    public static RankOptions Rank(double tau, string criterion, int minRank, int maxRank)
    {
        if (minRank > maxRank) throw new UserErrorException($"--min-rank ({minRank}) must not exceed --max-rank ({maxRank})");
        TryParseCriterion(criterion, out var c);
        var options = new RankOptions(c, tau, minRank, maxRank);
        options.Validate();
        return options;
    }

    public static Option<TValue> Validated<TValue>(Option<TValue> option, Func<TValue, bool> ok, Func<TValue, string> message)
    {
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<TValue>();
            if (value is not null && !ok(value)) result.AddError(message(value));
        });
        return option;
    }

    public static string RequireFile(string path, string what)
    {
        if (!File.Exists(path)) throw new UserErrorException($"{what} '{path}' does not exist");
        return path;
    }
}
