// Thrown when an adapter does not fit a base model: lists every mismatch in one message.
namespace Sara.Native.IO;

/// <summary>An adapter's layers do not match the base model's; <see cref="Problems"/> has one line per mismatch.</summary>
public sealed class AdapterMismatchException : ArgumentException
{
    public IReadOnlyList<string> Problems { get; }

    public AdapterMismatchException(string paramName, IReadOnlyList<string> problems)
        : base($"the adapter does not match the base model ({problems.Count} problem{(problems.Count == 1 ? "" : "s")}):"
            + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  - " + p)), paramName)
    {
        Problems = problems;
    }
}
