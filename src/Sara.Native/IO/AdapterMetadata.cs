// The file-level settings of an adapter: method, rank criterion, tau, scale, experts, versions.
using System.Reflection;
using Sara.Native.Svd;

namespace Sara.Native.IO;

/// <summary>
/// What an adapter file says about how it was made. <see cref="Experts"/> is 0 for SARA and the
/// number of singular-value experts E (at least 1) for Mo-SARA.
/// </summary>
public sealed record AdapterMetadata(
    AdapterMethod Method,
    string Criterion,
    double Tau,
    double Scale,
    int Experts,
    string LibraryVersion,
    int FormatVersion = AdapterMetadata.CurrentFormatVersion)
{
    /// <summary>The adapter format version this library writes and the newest it reads.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>Metadata for a new adapter, stamped with this library's version.</summary>
    public static AdapterMetadata Create(AdapterMethod method, string criterion, double tau, double scale, int experts = 0) =>
        new(method, criterion, tau, scale, experts, CurrentLibraryVersion);

    /// <summary>The informational version of the Sara.Native assembly.</summary>
    public static string CurrentLibraryVersion { get; } =
        typeof(AdapterMetadata).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(AdapterMetadata).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>Throws <see cref="ArgumentException"/> when the settings cannot describe an adapter.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Criterion))
            throw new ArgumentException("criterion must be named (e.g. SumFraction)", nameof(Criterion));
        if (!Enum.TryParse<RankCriterion>(Criterion, ignoreCase: false, out var criterion) || criterion.ToString() != Criterion)
            throw new ArgumentException($"criterion '{SafeText.Name(Criterion)}' is not one of {string.Join(", ", Enum.GetNames<RankCriterion>())}", nameof(Criterion));
        if (!(Tau > 0 && Tau <= 1))
            throw new ArgumentOutOfRangeException(nameof(Tau), Tau, "tau must be in (0, 1]");
        if (!double.IsFinite(Scale))
            throw new ArgumentOutOfRangeException(nameof(Scale), Scale, "scale must be finite");
        if (Method == AdapterMethod.Sara && Experts != 0)
            throw new ArgumentOutOfRangeException(nameof(Experts), Experts, "a SARA adapter has no experts (0)");
        if (Method == AdapterMethod.MoSara && Experts < 1)
            throw new ArgumentOutOfRangeException(nameof(Experts), Experts, "a Mo-SARA adapter needs at least one expert");
        if (FormatVersion < 1 || FormatVersion > CurrentFormatVersion)
            throw new ArgumentOutOfRangeException(nameof(FormatVersion), FormatVersion, $"supported format versions are 1..{CurrentFormatVersion}");
    }
}
