using System.CommandLine;
using Sara.Cli.Demo;
using Spectre.Console;

namespace Sara.Cli.Commands;

/// <summary>`sara demo`: pretrain a small MLP, adapt it to a shifted task by full fine-tuning, SARA and Mo-SARA, report and save.</summary>
internal static class DemoCommand
{
    public static Command Create(CliContext context)
    {
        var device = CommonOptions.Device();
        var seed = CommonOptions.Number("--seed", [], "seed of the data, teacher and initial weights", 1, _ => true, "any whole number");
        var steps = CommonOptions.Number("--steps", [], "adaptation steps per method (pretraining runs twice as many)",
            DemoSettings.DefaultSteps, v => v >= 1, ">= 1");
        var output = new Option<string>("--out") { Description = "output folder", DefaultValueFactory = _ => Path.Combine("artifacts", "demo") };
        var command = new Command("demo", "Pretrain a small MLP, adapt it to a shifted task three ways (full fine-tuning, SARA, Mo-SARA), "
                                          + "print the measured figures side by side and write adapters, the merged model and a loss plot.")
        {
            device, seed, steps, output,
        };
        command.SetAction(r => context.Guard("demo", () =>
        {
            var settings = new DemoSettings(r.GetValue(device), r.GetValue(seed), r.GetValue(steps), r.GetValue(output)!);
            var console = context.CreateConsole();
            var result = DemoRunner.Run(settings, line => console.MarkupLine($"[grey]{Markup.Escape(line)}[/]"));
            console.WriteLine();
            DemoReport.Print(console, result);
            return 0;
        }));
        return command;
    }
}
