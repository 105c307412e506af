using System.CommandLine;
using System.Globalization;
using Sara.Cli.Analysis;
using Sara.Native.Backends;
using Sara.Native.IO;
using Sara.Native.Svd;
using Spectre.Console;

namespace Sara.Cli.Commands;

/// <summary>
/// `sara analyze CHECKPOINT`: rank plan of every selected weight matrix of a .safetensors file, sharded index .json or
/// .onnx model (conv weights as out x in*kh*kw), the plan table and the trainable-parameter totals per method.
/// </summary>
internal static class AnalyzeCommand
{
    public static Command Create(CliContext context)
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = ".safetensors file, model.safetensors.index.json, or .onnx model" };
        var threshold = CommonOptions.Threshold();
        var criterion = CommonOptions.Criterion();
        var minRank = CommonOptions.MinRank();
        var maxRank = CommonOptions.MaxRank();
        var include = new Option<string[]>("--include") { Description = "keep weights whose name matches (glob, or re:REGEX); repeatable", AllowMultipleArgumentsPerToken = false };
        var exclude = new Option<string[]>("--exclude") { Description = "drop weights whose name matches (glob, or re:REGEX); repeatable", AllowMultipleArgumentsPerToken = false };
        var device = CommonOptions.Device();
        var experts = CommonOptions.Number("--experts", [], "Mo-SARA experts E for the parameter totals", 4, v => v >= 1, ">= 1");
        var targets = SpectrumOptions.TargetModules();
        var excludeModules = SpectrumOptions.ExcludeModules();
        var exact = SpectrumOptions.Exact();
        var estimate = SpectrumOptions.Estimate();
        var seed = SpectrumOptions.Seed();
        var json = new Option<string?>("--json") { Description = "write the plan as JSON (RankPlan.FromJson reads it)" };
        var plot = new Option<string?>("--plot") { Description = "write a PNG (the name must end in .png): normalised spectra with each cut, and rank per layer" };
        plot.Validators.Add(result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : null;
            if (text is not null && !text.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
                result.AddError($"--plot writes a PNG image: its file name must end in .png; got '{SafeText.Line(text)}'");
        });

        var command = new Command("analyze", "Choose each layer's adapter rank from its singular values and print the plan and parameter totals.")
        {
            checkpoint, threshold, criterion, minRank, maxRank, include, exclude, device, experts, json, plot,
            targets, excludeModules, exact, estimate, seed,
        };
        command.SetAction(r => context.Guard("analyze", () => Run(context, new Request(
            r.GetValue(checkpoint)!,
            SpectrumOptions.Apply(CommonOptions.Rank(r.GetValue(threshold), r.GetValue(criterion)!, r.GetValue(minRank), r.GetValue(maxRank)),
                r.GetValue(exact), r.GetValue(estimate), r.GetValue(seed)),
            WeightFilter.Parse(r.GetValue(include), r.GetValue(exclude)),
            r.GetValue(device), r.GetValue(experts), r.GetValue(json), r.GetValue(plot),
            SpectrumOptions.Targets(r.GetValue(targets), r.GetValue(excludeModules))))));
        return command;
    }

    private sealed record Request(string Checkpoint, RankOptions Rank, WeightFilter Filter, string? Device, int Experts,
        string? Json, string? Plot, ModuleTargets Targets);

    private static int Run(CliContext context, Request q)
    {
        CommonOptions.RequireFile(q.Checkpoint, "checkpoint");
        OutputFile.CheckDistinct([(q.Json, "--json"), (q.Plot, "--plot")]);
        using var backend = Devices.Create(q.Device);
        using var source = WeightSource.Open(q.Checkpoint, q.Filter);
        var inputs = source.InputFiles.Select(f => (f, "checkpoint file")).ToList();
        if (q.Json is not null) OutputFile.Check(q.Json, "--json", inputs);
        if (q.Plot is not null) OutputFile.Check(q.Plot, "--plot", inputs);
        var (selected, skipped) = Init.InitRunner.Select(source, q.Targets);
        if (selected.Count == 0)
            throw new UserErrorException($"no 2-D or conv weight of '{SafeText.Line(q.Checkpoint)}' is selected ({skipped.Count} tensors skipped: check --include/--exclude, --target-modules/--exclude-modules)");

        var console = context.CreateConsole();
        console.MarkupLine($"[bold]sara analyze[/] {Markup.Escape(SafeText.Line(q.Checkpoint))} on [bold]{Markup.Escape(backend.Name)}[/] ({Markup.Escape(backend.Description)})");
        console.WriteLine($"{selected.Count} weight matrices selected, {skipped.Count} tensors skipped; criterion {q.Rank.Criterion}, tau {Num(q.Rank.Tau)}, k in [{q.Rank.KMin}, {q.Rank.KMax}]");
        var byDefault = skipped.Where(s => s.Reason.EndsWith("(excluded by default)", StringComparison.Ordinal)).ToList();
        if (byDefault.Count > 0)
            console.WriteLine($"excluded by default: {string.Join(", ", byDefault.Select(s => SafeText.Name(s.Name)))}; name them in --target-modules to include them");
        console.WriteLine(SpectrumOptions.Describe(q.Rank));

        var spectra = new List<float[]>();
        RankPlan PlanAll(Action<LayerRank>? done) => RankPlanner.Plan(backend, selected, q.Rank, (layer, s) =>
        {
            if (q.Plot is not null) spectra.Add(s);
            done?.Invoke(layer);
        });
        // A progress bar on a terminal; redirected output gets only the table (it has each layer's seconds).
        RankPlan plan = null!;
        if (console.Profile.Capabilities.Interactive)
            console.Progress().AutoClear(true).HideCompleted(true).Start(progress =>
            {
                var task = progress.AddTask("rank plan", maxValue: selected.Count);
                plan = PlanAll(layer =>
                {
                    task.Description = Markup.Escape(SafeText.Name(layer.Layer));
                    task.Increment(1);
                });
            });
        else
            plan = PlanAll(null);

        console.Write(PlanTable(plan));
        var totals = ParameterTotals.For(plan.Layers, q.Experts);
        console.Write(TotalsTable(totals));

        if (q.Json is not null)
        {
            CreateFolderOf(q.Json);
            AtomicFile.WriteAllText(q.Json, plan.ToJson());
            console.MarkupLine($"plan written to {Markup.Escape(SafeText.Line(q.Json))}");
        }
        if (q.Plot is not null)
        {
            CreateFolderOf(q.Plot);
            SpectrumPlot.Save(q.Plot, plan.Layers, spectra, SafeText.Name(Path.GetFileName(q.Checkpoint)));
            console.MarkupLine($"plot written to {Markup.Escape(SafeText.Line(q.Plot))}");
        }
        return 0;
    }

    /// <summary>The values the plot shows: all of them for SumFraction, the leading min(KMax, r) for EnergyFraction (same sketch).</summary>
    private static Table PlanTable(RankPlan plan)
    {
        var table = new Table().Title("rank plan");
        table.AddColumn("layer");
        foreach (var c in new[] { "shape", "k", "fraction reached", "total", "seconds" }) table.AddColumn(new TableColumn(c).RightAligned());
        foreach (var l in plan.Layers)
            table.AddRow(Markup.Escape(SafeText.Name(l.Layer)), $"{l.Rows}x{l.Cols}", l.K.ToString(CultureInfo.InvariantCulture),
                l.FractionReached.ToString("F4", CultureInfo.InvariantCulture), RankPlan.TotalText(l), l.Seconds.ToString("F3", CultureInfo.InvariantCulture));
        table.Caption(Markup.Escape($"{plan.Layers.Count} layers, total {plan.Layers.Sum(l => l.Seconds).ToString("F2", CultureInfo.InvariantCulture)} s"));
        return table;
    }

    private static Table TotalsTable(ParameterTotals t)
    {
        var table = new Table().Title("trainable parameters (adapted layers)");
        table.AddColumn("method");
        table.AddColumn(new TableColumn("parameters").RightAligned());
        table.AddColumn(new TableColumn("vs full").RightAligned());
        void Row(string name, long value) => table.AddRow(name, value.ToString("N0", CultureInfo.InvariantCulture),
            t.Full == 0 ? "-" : (100.0 * value / t.Full).ToString("F3", CultureInfo.InvariantCulture) + " %");
        Row("SARA (lambda + A + B: k + mk + kn)", t.Sara);
        Row("SARA (lambda only: k)", t.SaraLambdaOnly);
        Row($"Mo-SARA (E = {t.Experts}: 2Ek + E)", t.MoSara);
        Row("LoRA r = 8: r(m + n)", t.LoraR8);
        Row("LoRA r = 16: r(m + n)", t.LoraR16);
        Row("full fine-tuning: mn", t.Full);
        return table;
    }

    private static void CreateFolderOf(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
    }

    private static string Num(double v) => v.ToString(CultureInfo.InvariantCulture);
}
