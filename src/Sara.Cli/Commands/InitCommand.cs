using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Sara.Cli.Init;
using Sara.Native.Backends;
using Sara.Native.IO;
using Sara.Native.Svd;
using Spectre.Console;

namespace Sara.Cli.Commands;

/// <summary>
/// `sara init CHECKPOINT -o ADAPTER`: the rank plan and the SVD initialisation of every selected layer in one streamed
/// pass (InitRunner); `--part i/N` for a share of the layers, `sara init --combine PART... -o ADAPTER` to join shares.
/// </summary>
internal static class InitCommand
{
    /// <summary>Exit code of a run stopped by Ctrl-C or SIGTERM (128 + SIGINT).</summary>
    public const int ExitInterrupted = 130;

    public static Command Create(CliContext context)
    {
        var checkpoint = new Argument<string?>("checkpoint")
        {
            Description = ".safetensors file, model.safetensors.index.json, or .onnx model",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var output = new Option<string>("--output", "-o") { Description = "adapter to write (.safetensors, loads with AdapterFile.Load)", Required = true };
        var method = Checked(new Option<string>("--method")
        {
            Description = "sara (lambda, A, B) or mo-sara (E singular-value experts and a router; A, B frozen)",
            DefaultValueFactory = _ => "sara",
        }, v => AdapterMethods.TryParse(v, out _), v => $"unknown --method '{v}'; expected sara or mo-sara");
        var experts = CommonOptions.Number("--experts", [], "Mo-SARA experts E", 4, v => v >= 1, ">= 1");
        var threshold = CommonOptions.Threshold();
        var criterion = CommonOptions.Criterion();
        var minRank = CommonOptions.MinRank();
        var maxRank = CommonOptions.MaxRank();
        var exact = SpectrumOptions.Exact();
        var estimate = SpectrumOptions.Estimate();
        var seed = SpectrumOptions.Seed();
        var targets = SpectrumOptions.TargetModules();
        var excludeModules = SpectrumOptions.ExcludeModules();
        var include = new Option<string[]>("--include") { Description = "keep weights whose name matches (glob, or re:REGEX); repeatable" };
        var exclude = new Option<string[]>("--exclude") { Description = "drop weights whose name matches (glob, or re:REGEX); repeatable" };
        var device = new Option<string?>("--device")
        {
            Description = "cpu, emu, cuda, or a list of devices that share the layers (cuda:0,cuda:1); default: SARA_DEVICE, else the GPU if present, else cpu",
        };
        var part = Checked(new Option<string?>("--part")
        {
            Description = "process share i of N (1 <= i <= N) of the layers, split deterministically by work; join the N files with --combine",
        }, v => WorkAssignment.ParsePart(v) is not null, v => $"--part must be i/N with 1 <= i <= N; got '{v}'");
        var resume = new Option<bool>("--resume") { Description = "continue an interrupted run: keep the layers already finished in OUTPUT.work" };
        var combine = new Option<string[]>("--combine")
        {
            Description = "join part files written with --part i/N into one adapter (instead of a checkpoint)",
            AllowMultipleArgumentsPerToken = true,
        };
        var plan = new Option<string?>("--plan") { Description = "where to write the rank plan as JSON (default: OUTPUT with .plan.json)" };

        var command = new Command("init", "Plan each layer's rank and initialise its SARA / Mo-SARA adapter from one truncated SVD, streamed "
                                          + "over the checkpoint; --part/--combine spread a model over machines or devices.")
        {
            checkpoint, output, method, experts, threshold, criterion, minRank, maxRank, exact, estimate, seed, targets,
            excludeModules, include, exclude, device, part, resume, combine, plan,
        };
        command.SetAction(r => context.Guard("init", () =>
        {
            var o = r.GetValue(output)!;
            var planPath = r.GetValue(plan) ?? DefaultPlanPath(o);
            var parts = r.GetValue(combine) ?? [];
            var ckpt = r.GetValue(checkpoint);
            if (parts.Length > 0)
            {
                if (ckpt is not null) throw new UserErrorException("give either a checkpoint or --combine PART..., not both");
                return Interruptible(context, "init", token =>
                {
                    var result = InitCombiner.Combine(parts, o, planPath, token);
                    context.Output.WriteLine($"combined {result.Parts} parts: {result.Layers} layers written to {SafeText.Line(o)}; plan {SafeText.Line(planPath)}");
                    return 0;
                });
            }
            if (ckpt is null) throw new UserErrorException("give a checkpoint, or --combine PART... to join parts");
            AdapterMethods.TryParse(r.GetValue(method), out var m);
            var rank = SpectrumOptions.Apply(
                CommonOptions.Rank(r.GetValue(threshold), r.GetValue(criterion)!, r.GetValue(minRank), r.GetValue(maxRank)),
                r.GetValue(exact), r.GetValue(estimate), r.GetValue(seed));
            var request = new InitRequest(CommonOptions.RequireFile(ckpt, "checkpoint"), o, rank, m,
                m == AdapterMethod.MoSara ? r.GetValue(experts) : 0,
                WeightFilter.Parse(r.GetValue(include), r.GetValue(exclude)),
                SpectrumOptions.Targets(r.GetValue(targets), r.GetValue(excludeModules)),
                WorkAssignment.ParsePart(r.GetValue(part)), r.GetValue(resume), planPath);
            return Run(context, request, r.GetValue(device));
        }));
        return command;
    }

    /// <summary>A text option whose last token must satisfy <paramref name="ok"/>; the message shows the token escaped (SafeText).</summary>
    private static Option<T> Checked<T>(Option<T> option, Func<string, bool> ok, Func<string, string> message)
    {
        option.Validators.Add(result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : null;
            if (text is not null && !ok(text)) result.AddError(message(SafeText.Name(text)));
        });
        return option;
    }

    private static string DefaultPlanPath(string output) =>
        Path.ChangeExtension(output, null) + ".plan.json";

    private static int Run(CliContext context, InitRequest q, string? deviceList)
    {
        OutputFile.CheckDistinct([(q.Output, "--output"), (q.PlanPath, "--plan")]);
        using var source = WeightSource.Open(q.Checkpoint, q.Filter);
        var inputs = source.InputFiles.Select(f => (f, "checkpoint file")).ToList();
        OutputFile.Check(q.Output, "--output", inputs);
        OutputFile.Check(q.PlanPath, "--plan", inputs);
        var (selected, skipped) = InitRunner.Select(source, q.Targets);
        if (selected.Count == 0)
            throw new UserErrorException($"no weight of '{SafeText.Line(q.Checkpoint)}' is selected ({skipped.Count} skipped: check --target-modules, --exclude-modules, --include, --exclude)");
        var backends = Devices.CreateAll(deviceList);
        try
        {
            var console = context.CreateConsole();
            // Plain lines when redirected (one per layer, never wrapped); Spectre's console only draws the live progress.
            var interactive = console.Profile.Capabilities.Interactive;
            Action<string> say = interactive ? line => console.WriteLine(line) : context.Output.WriteLine;
            Header(say, q, selected, skipped, backends);
            return Interruptible(context, "init", token => Execute(console, interactive, say, q, selected, backends, token));
        }
        finally
        {
            foreach (var b in backends) b.Dispose();
        }
    }

    private static void Header(Action<string> say, InitRequest q, List<WeightMatrix> selected, List<SkippedWeight> skipped,
        IReadOnlyList<Backend> backends)
    {
        var devices = string.Join(", ", backends.Select(b => $"{b.Name} ({b.Description})"));
        say($"sara init {SafeText.Line(q.Checkpoint)} on {devices}");
        var share = q.Part is { } p ? $"; part {p.Index}/{p.Count} of the layers" : "";
        say($"{selected.Count} weight matrices selected ({q.Targets}), {skipped.Count} tensors skipped{share}");
        var byDefault = skipped.Where(s => s.Reason.EndsWith("(excluded by default)", StringComparison.Ordinal)).ToList();
        if (byDefault.Count > 0)
            say($"excluded by default: {string.Join(", ", byDefault.Select(s => $"{SafeText.Name(s.Name)} ({s.Reason.Replace(" (excluded by default)", "")})"))}; "
                + "name them in --target-modules to adapt them");
        var r = q.Rank;
        say($"method {AdapterMethods.ToText(q.Method)}{(q.Method == AdapterMethod.MoSara ? $", E = {q.Experts}" : "")}; "
            + $"criterion {r.Criterion}, tau {r.Tau.ToString(CultureInfo.InvariantCulture)}, k in [{r.KMin}, {r.KMax}]; {SpectrumOptions.Describe(r)}; seed {r.Seed}");
    }

    private static int Execute(IAnsiConsole console, bool interactive, Action<string> say, InitRequest q, List<WeightMatrix> selected,
        IReadOnlyList<Backend> backends, CancellationToken token)
    {
        InitOutcome outcome = null!;
        if (interactive)
        {
            console.Progress().AutoClear(true).HideCompleted(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(progress =>
                {
                    var task = progress.AddTask("init", maxValue: selected.Sum(m => (double)m.Rows * m.Cols));
                    outcome = InitRunner.Run(q, selected, backends, say, d =>
                    {
                        task.Description = Markup.Escape($"{d.Done}/{d.Total} {SafeText.Name(d.Layer.Layer)}");
                        task.Increment((double)d.Layer.Rows * d.Layer.Cols);
                    }, token);
                });
        }
        else
        {
            outcome = InitRunner.Run(q, selected, backends, say, d =>
            {
                say(LayerLine(d));
                HoldForTest(token);
            }, token);
        }
        var ks = outcome.Plan.Layers.Select(l => l.K).Order().ToList();
        say($"wrote {SafeText.Line(q.Output)}: {outcome.Layers} layers ({outcome.Computed} computed, {outcome.Resumed} resumed), "
                          + $"k {ks[0]}..{ks[^1]} (median {ks[ks.Count / 2]}), {outcome.TrainableParameters:N0} trainable parameters; plan {SafeText.Line(q.PlanPath)}");
        say($"{outcome.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s, peak RSS {PeakRss()}");
        return 0;
    }

    /// <summary>
    /// Test seam: with SARA_INIT_HOLD_FILE set, the run waits after a layer line while that file exists and the run is
    /// not cancelled (at most 2 minutes), so a test can interrupt or kill it at a known point instead of racing it.
    /// </summary>
    private static void HoldForTest(CancellationToken token)
    {
        var hold = Environment.GetEnvironmentVariable("SARA_INIT_HOLD_FILE");
        if (string.IsNullOrEmpty(hold)) return;
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (File.Exists(hold) && !token.IsCancellationRequested && waited.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(10);
    }

    /// <summary>
    /// One line per finished layer (redirected output): name, shape, k, fraction, the total's error bound, the layer's
    /// wall seconds (read, SVD and plan, write) with the read and the process's CPU seconds, the device, elapsed and ETA.
    /// </summary>
    internal static string LayerLine(LayerDone d)
    {
        var l = d.Layer;
        var left = d.Remaining is { } t ? $", ~{Clock(t)} left" : "";
        var cpu = (double.IsNaN(d.CpuSeconds) ? "" : $", cpu {d.CpuSeconds:F2} s") + (d.Batch > 1 ? $", 1/{d.Batch} of a batch" : "");
        return string.Create(CultureInfo.InvariantCulture,
            $"[{d.Done}/{d.Total}] {SafeText.Name(l.Layer)} {l.Rows}x{l.Cols} k={l.K} reached {l.FractionReached:F4} total {RankPlan.TotalText(l)} {d.Seconds:F2} s (read {d.ReadSeconds:F2} s{cpu}, {d.Device}); {Clock(d.Elapsed)} elapsed{left}");
    }

    private static string Clock(TimeSpan t) => t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"m\:ss", CultureInfo.InvariantCulture);

    /// <summary>The process's peak resident set (VmHWM of /proc/self/status), or "n/a".</summary>
    internal static string PeakRss()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            if (line is null) return "n/a";
            var kb = long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            return $"{(kb / 1048576.0).ToString("F2", CultureInfo.InvariantCulture)} GB";
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> with a token that Ctrl-C (SIGINT) or SIGTERM cancels: the run stops after the layer in
    /// progress, finished layers stay in the work folder, no adapter is written, and the exit code is 130.
    /// </summary>
    internal static int Interruptible(CliContext context, string command, Func<CancellationToken, int> body, CancellationToken external = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(external);
        void OnSignal(PosixSignalContext c)
        {
            c.Cancel = true;
            cts.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        try
        {
            return body(cts.Token);
        }
        catch (Exception) when (cts.IsCancellationRequested)
        {
            // Whatever fails once the signal came is the interruption's doing (the process's own handler removes the
            // in-flight temporary files, so a write under way loses its file).
            context.Error.WriteLine($"sara {command}: interrupted: no adapter was written; the finished layers are kept, run the same command with --resume to continue");
            return ExitInterrupted;
        }
    }
}
