using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;
using Sara.Native.IO;
using Sara.Native.Svd;

namespace Sara.Cli.Commands;

/// <summary>
/// Options several commands share (device, rank plan) and their validation, with messages naming the option. Numbers
/// are parsed here, not by the current culture: invariant digits, '.' as the decimal point, no thousands separators
/// (`--tau 1,5` is an error, not 15); a value that does not parse or is out of range is a parse error (one line, exit 2).
/// </summary>
internal static class CommonOptions
{
    public static Option<string?> Device() => new("--device")
    {
        Description = "cpu, emu (CUDA kernels on the host emulator) or cuda; default: SARA_DEVICE, else the GPU if present, else cpu",
    };

    public static Option<double> Threshold() => Number("--threshold", ["--tau"],
        "fraction tau in (0, 1] of the criterion's total that the leading k singular values must reach",
        RankOptions.DefaultTau, v => v > 0 && v <= 1, "in (0, 1]");

    public static Option<string> Criterion()
    {
        var option = new Option<string>("--criterion")
        {
            Description = "sum (sum of s_i, the paper's; its total estimated on large layers, see --exact) or energy (sum of s_i^2)",
            DefaultValueFactory = _ => "sum",
        };
        option.Validators.Add(result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : null;
            if (text is not null && !TryParseCriterion(text, out _))
                result.AddError($"unknown --criterion '{SafeText.Name(text)}'; expected sum or energy");
        });
        return option;
    }

    public static Option<int> MinRank() => Number("--min-rank", [], "smallest rank k per layer", RankOptions.DefaultKMin, v => v >= 1, ">= 1");

    public static Option<int> MaxRank() => Number("--max-rank", [], "largest rank k per layer", RankOptions.DefaultKMax, v => v >= 1, ">= 1");

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

    /// <summary>
    /// A numeric option parsed culture-independently (integers: optional sign and digits; reals: also a '.' and an
    /// exponent; never thousands separators, NaN or infinity) and checked by <paramref name="ok"/>; either failure is a
    /// parse error naming the option and the <paramref name="range"/>.
    /// </summary>
    public static Option<T> Number<T>(string name, string[] aliases, string description, T defaultValue, Func<T, bool> ok, string range)
        where T : INumber<T>, IMinMaxValue<T>
    {
        bool integer = T.IsZero(T.One / (T.One + T.One)); // 1 / 2 == 0 only in integer types
        var styles = integer ? NumberStyles.AllowLeadingSign
            : NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent;
        string kind = integer
            ? string.Create(CultureInfo.InvariantCulture, $"a whole number from {T.MinValue} to {T.MaxValue}")
            : "a decimal number like 0.25";
        return new Option<T>(name, aliases)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
                if (!T.TryParse(text, styles, CultureInfo.InvariantCulture, out var value) || !T.IsFinite(value))
                {
                    result.AddError($"{name} expects {kind}; got '{SafeText.Name(text)}'");
                    return defaultValue;
                }
                if (!ok(value))
                {
                    result.AddError($"{name} must be {range}; got {SafeText.Name(text)}");
                    return defaultValue;
                }
                return value;
            },
        };
    }

    /// <summary>Throws unless <paramref name="path"/> is an existing regular file (a FIFO, device or folder is refused without opening it).</summary>
    public static string RequireFile(string path, string what)
    {
        try
        {
            RegularFile.Require(path, what);
        }
        catch (IOException e)
        {
            throw new UserErrorException(e.Message);
        }
        return path;
    }
}
