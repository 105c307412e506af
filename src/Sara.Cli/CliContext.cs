using Sara.Native.IO;
using Spectre.Console;

namespace Sara.Cli;

/// <summary>The writers a run prints to, a Spectre console over the output, and the one-line handling of user errors.</summary>
public sealed class CliContext(TextWriter output, TextWriter error)
{
    public TextWriter Output { get; } = output;
    public TextWriter Error { get; } = error;

    /// <summary>A console on <see cref="Output"/>: colours and live progress on a terminal, plain wide text otherwise.</summary>
    public IAnsiConsole CreateConsole()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Detect,
            ColorSystem = ColorSystemSupport.Detect,
            Out = new AnsiConsoleOutput(Output),
        });
        if (!console.Profile.Capabilities.Interactive) console.Profile.Width = 200;
        return console;
    }

    /// <summary>Runs a command body; a user error becomes one line on stderr and exit code 1.</summary>
    public int Guard(string command, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (IsUserError(e))
        {
            Error.WriteLine($"sara {command}: error: {SaraCli.OneLine(e.Message)}");
            return SaraCli.ExitUserError;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("SARA_DEBUG") != "1")
        {
            Error.WriteLine($"sara {command}: internal error ({e.GetType().Name}): {SaraCli.OneLine(e.Message)} (SARA_DEBUG=1 shows the stack)");
            return SaraCli.ExitInternal;
        }
    }

    private static bool IsUserError(Exception e) => e is UserErrorException or ArgumentException or IOException
        or InvalidDataException or UnauthorizedAccessException or NotSupportedException or KeyNotFoundException
        or AdapterMismatchException or InvalidOperationException { Source: "Sara.Native" };
}

/// <summary>A problem with what the user asked for (message says what and how to fix it).</summary>
public sealed class UserErrorException(string message) : Exception(message);
