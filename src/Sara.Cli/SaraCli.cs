using System.CommandLine;
using Sara.Cli.Commands;
using Sara.Native.IO;

namespace Sara.Cli;

/// <summary>
/// The `sara` command line: analyze, demo, export, import-peft, init, merge, smoke. <see cref="Run"/> parses, runs and returns the exit code;
/// user errors (bad arguments, missing or corrupt files, unavailable device) are one line on stderr and exit code 1
/// (2 for a command line that does not parse), never a stack trace; 3 is an internal error, 4 a failed `sara smoke`.
/// </summary>
public static class SaraCli
{
    public const int ExitUserError = 1;
    public const int ExitUsage = 2;
    public const int ExitInternal = 3;

    /// <summary>A self-check (`sara smoke`) ran and found a wrong result.</summary>
    public const int ExitCheckFailed = 4;

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        var root = new RootCommand("sara: adaptive-rank SARA / Mo-SARA adapters on the Sara.Native kernels.");
        var context = new CliContext(output, error);
        root.Subcommands.Add(AnalyzeCommand.Create(context));
        root.Subcommands.Add(DemoCommand.Create(context));
        root.Subcommands.Add(ExportCommand.Create(context));
        root.Subcommands.Add(ImportPeftCommand.Create(context));
        root.Subcommands.Add(InitCommand.Create(context));
        root.Subcommands.Add(MergeCommand.Create(context));
        root.Subcommands.Add(SmokeCommand.Create(context));

        ParseResult parsed;
        try
        {
            parsed = root.Parse(args);
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("SARA_DEBUG") != "1")
        {
            // A parser bug, not a user error: still one line, never a stack trace.
            error.WriteLine($"sara: internal error while parsing the command line ({e.GetType().Name}): {OneLine(e.Message)} (SARA_DEBUG=1 shows the stack)");
            return ExitInternal;
        }
        if (parsed.Errors.Count > 0)
        {
            var command = parsed.CommandResult.Command;
            var name = command == root ? "sara" : $"sara {command.Name}";
            error.WriteLine($"{name}: error: {OneLine(parsed.Errors[0].Message)} (see '{name} --help')");
            return ExitUsage;
        }
        return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
    }

    /// <summary>A message as one printable line: line breaks joined, control characters escaped, length bounded (<see cref="SafeText"/>).</summary>
    internal static string OneLine(string message) =>
        SafeText.Line(string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));
}
