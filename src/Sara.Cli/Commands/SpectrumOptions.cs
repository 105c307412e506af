using System.CommandLine;
using Sara.Native.IO;
using Sara.Native.Svd;

namespace Sara.Cli.Commands;

/// <summary>Options `analyze` and `init` share beyond CommonOptions: PEFT-style module targeting, the spectrum mode, the seed.</summary>
internal static class SpectrumOptions
{
    public static Option<string[]> TargetModules() => new("--target-modules")
    {
        Description = "modules to adapt, as PEFT's target_modules: comma-separated names matched as suffixes (q_proj,v_proj), "
                      + "re:REGEX for a full-name match, or all-linear; default: every weight matrix except embeddings and output heads",
    };

    public static Option<string[]> ExcludeModules() => new("--exclude-modules")
    {
        Description = "modules never to adapt (same matching as --target-modules)",
    };

    public static Option<bool> Exact() => new("--exact")
    {
        Description = "SumFraction from all singular values (vendor solver): the reference path, slow on large layers",
    };

    public static Option<bool> Estimate() => new("--estimate")
    {
        Description = "SumFraction from the leading values plus a block Lanczos estimate of the rest, even on small layers "
                      + "(default: estimated where it saves work, exact below)",
    };

    public static Option<int> Seed() => new("--seed")
    {
        Description = "seed of the random sketches (combined with each layer's name)",
        DefaultValueFactory = _ => 0,
    };

    /// <summary>The rank options with the spectrum mode and seed applied; --exact with --estimate is a user error.</summary>
    public static RankOptions Apply(RankOptions rank, bool exact, bool estimate, int seed)
    {
        if (exact && estimate) throw new UserErrorException("--exact and --estimate exclude each other");
        return rank with { Spectrum = exact ? SpectrumMode.Exact : estimate ? SpectrumMode.Estimated : SpectrumMode.Auto, Seed = seed };
    }

    public static ModuleTargets Targets(string[]? targets, string[]? excludes)
    {
        try
        {
            return ModuleTargets.Parse(targets, excludes);
        }
        catch (ArgumentException e)
        {
            throw new UserErrorException($"--target-modules/--exclude-modules: {e.Message}");
        }
    }

    /// <summary>How the plan's SumFraction total is obtained, for the header line.</summary>
    public static string Describe(RankOptions o) => o.Criterion != RankCriterion.SumFraction
        ? "total ||W||_F^2"
        : o.Spectrum switch
        {
            SpectrumMode.Exact => "exact spectrum (--exact)",
            SpectrumMode.Estimated => "estimated total: leading values + block Lanczos quadrature (--estimate)",
            _ => $"estimated total where min(m, n) >= {o.Krylov.Width(o.KMax) + 2 * o.Krylov.Probes * o.Krylov.LanczosSteps} (leading values + block Lanczos quadrature), exact below; --exact for all",
        };
}
