using System.CommandLine;
using Sara.Cli.Demo;
using Spectre.Console;

namespace Sara.Cli.Commands;

/// <summary>`sara demo`: pretrain a small MLP, adapt it to a shifted task six ways (full fine-tuning, SARA, SARA lambda-only, two LoRAs, Mo-SARA), report and save.</summary>
internal static class DemoCommand
{
    public static Command Create(CliContext context)
    {
        var device = CommonOptions.Device();
        var seed = CommonOptions.Number("--seed", [], "seed of the data, teacher and initial weights", 1, _ => true, "any whole number");
        var steps = CommonOptions.Number("--steps", [], "adaptation steps per method (pretraining runs twice as many)",
            DemoSettings.DefaultSteps, v => v >= 1, ">= 1");
        var output = new Option<string>("--out") { Description = "output folder", DefaultValueFactory = _ => Path.Combine("artifacts", "demo") };
        var command = new Command("demo", "Pretrain a small MLP, adapt it to a shifted task by full fine-tuning, SARA, SARA with frozen directions, "
                                          + "LoRA (at SARA's parameter count and r = 8) and Mo-SARA, each at the learning rate the same validation search "
                                          + "chose; print the measured figures side by side and write adapters, the merged model, a PEFT LoRA and a loss plot.")
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
