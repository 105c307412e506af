using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace Sara.Cli.Demo;

/// <summary>Prints what the demo measured — every number comes from the run — and writes the same as JSON.</summary>
internal static class DemoReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Print(IAnsiConsole c, DemoResult r)
    {
        var s = r.Settings;
        c.MarkupLine($"[bold]sara demo[/] on [bold]{Markup.Escape(r.DeviceDescription)}[/], seed {s.Seed}");
        c.WriteLine();
        c.WriteLine($"Task: {SyntheticTask.Classes}-class classification of x ~ N(0, I_{SyntheticTask.Features}), labels from a random teacher "
                    + $"argmax(T2 tanh(T1 x)) ({s.TrainCount} train / {s.TestCount} test inputs per task).");
        c.WriteLine($"Shift: the teacher's first layer becomes T1 + D, D a random rank-{SyntheticTask.ShiftRank} matrix with "
                    + $"||D||_F = {SyntheticTask.ShiftStrength.ToString(Inv)} ||T1||_F; it changes the label of {Pct(r.LabelChangeFraction)} of the shifted test inputs.");
        c.WriteLine($"Model: MLP {string.Join(" -> ", DemoSettings.Widths)} (ReLU between layers), {r.DenseParameters:N0} parameters; "
                    + $"pretrained {s.PretrainSteps} steps on the source task in {F(r.Pretrain.Seconds, 2)} s: "
                    + $"source test accuracy {Pct(r.SourceAfterPretrain.Accuracy)}, loss {F(r.SourceAfterPretrain.Loss, 4)}.");
        c.WriteLine($"Before adaptation the pretrained model scores {Pct(r.ShiftBefore.Accuracy)} (loss {F(r.ShiftBefore.Loss, 4)}) on the shifted test set.");
        c.WriteLine($"Adaptation: all three layers, {s.Steps} AdamW steps of batch {s.BatchSize} per method, from the same pretrained weights, "
                    + $"on {s.TrainCount - s.ValidationCount} shifted training inputs; {s.ValidationCount} more are the validation split of the learning-rate search.");
        c.WriteLine();

        var plan = new Table().Title(Markup.Escape($"SARA rank plan ({s.Rank.Criterion}, tau {s.Rank.Tau.ToString(Inv)}, k in [{s.Rank.KMin}, {s.Rank.KMax}])"));
        plan.AddColumn("layer");
        foreach (var h in new[] { "shape", "k", "fraction reached", "seconds" }) plan.AddColumn(new TableColumn(h).RightAligned());
        foreach (var l in r.SaraPlan)
            plan.AddRow(Markup.Escape(l.Layer), $"{l.Rows}x{l.Cols}", l.K.ToString(Inv), F(l.FractionReached, 4), F(l.Seconds, 4));
        c.Write(plan);

        var table = new Table().Title("adaptation to the shifted task (measured on the test set)");
        table.AddColumn("method");
        foreach (var h in new[] { "ranks", "trainable params", "% of full", "acc before", "acc after", "test loss after", "train loss (last 20)", "ms/step", "seconds", "learning rate" })
            table.AddColumn(new TableColumn(h).RightAligned());
        var fullParams = r.Methods[0].TrainableParameters;
        foreach (var m in r.Methods)
            table.AddRow(Markup.Escape(m.Method), string.Join("/", m.Ranks.Select(x => x.K)), m.TrainableParameters.ToString("N0", Inv),
                F(100.0 * m.TrainableParameters / fullParams, 2), Pct(r.ShiftBefore.Accuracy), Pct(m.After.Accuracy), F(m.After.Loss, 4),
                F(m.Run.FinalLoss(), 4), F(m.Run.MillisecondsPerStep, 2), F(m.Run.Seconds, 2), Rate(m.Search.Chosen));
        table.Caption(Markup.Escape($"ranks: k per layer (l1/l2/l3; min(m, n) for full fine-tuning); full fine-tuning trains weights and biases, "
                      + "SARA lambda + A + B, SARA (lambda only) lambda with A, B frozen, LoRA lora_A + lora_B (r(m + n) per layer; "
                      + $"r = {r.MatchedLoraRank} is the rank closest to SARA's parameter count, alpha = {s.LoraAlpha.ToString(Inv)}), "
                      + "Mo-SARA Lambda + router (2Ek + E per layer) with A, B frozen"));
        c.Write(table);
        var search = new Table().Title(Markup.Escape($"learning-rate search: validation accuracy after {s.SearchSteps} steps (* = chosen; "
                                                     + $"unadapted model {Pct(r.ValidationBefore.Accuracy)})"));
        search.AddColumn("method");
        foreach (var rate in s.LearningRates) search.AddColumn(new TableColumn(Rate(rate)).RightAligned());
        foreach (var m in r.Methods)
            search.AddRow([Markup.Escape(m.Method), .. m.Search.Trials.Select(t => Pct(t.Validation.Accuracy) + (t.Rate == m.Search.Chosen ? " *" : "  "))]);
        c.Write(search);

        foreach (var line in MoSaraFindings(r)) c.WriteLine(line);

        c.WriteLine($"Merged SARA model (W0 + s A diag(lambda) B, dense forward): shifted test accuracy {Pct(r.MergedSara.Accuracy)}, "
                    + $"loss {F(r.MergedSara.Loss, 4)}; largest |logit difference| vs the adapter form {r.MergedMaxLogitDifference.ToString("E2", Inv)}.");
        c.WriteLine($"Files in {r.Settings.OutputFolder}:");
        foreach (var f in r.Files) c.WriteLine($"  {Path.GetFileName(f)}");
        c.WriteLine($"Total demo time {F(r.TotalSeconds, 1)} s on {r.Device}.");
    }

    public static string Json(DemoResult r)
    {
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            j.WriteStartObject();
            j.WriteString("device", r.Device);
            j.WriteString("deviceDescription", r.DeviceDescription);
            j.WriteNumber("seed", r.Settings.Seed);
            j.WriteNumber("steps", r.Settings.Steps);
            j.WriteNumber("pretrainSteps", r.Settings.PretrainSteps);
            j.WriteNumber("labelChangeFraction", r.LabelChangeFraction);
            j.WriteNumber("sourceTestAccuracy", r.SourceAfterPretrain.Accuracy);
            j.WriteNumber("shiftAccuracyBefore", r.ShiftBefore.Accuracy);
            Number(j, "shiftLossBefore", r.ShiftBefore.Loss);
            j.WriteNumber("validationAccuracyBefore", r.ValidationBefore.Accuracy);
            j.WriteNumber("searchSteps", r.Settings.SearchSteps);
            j.WriteNumber("matchedLoraRank", r.MatchedLoraRank);
            j.WriteStartArray("methods");
            foreach (var m in r.Methods)
            {
                j.WriteStartObject();
                j.WriteString("method", m.Method);
                j.WriteNumber("trainableParameters", m.TrainableParameters);
                j.WriteStartObject("ranks");
                foreach (var (layer, k) in m.Ranks) j.WriteNumber(layer, k);
                j.WriteEndObject();
                j.WriteNumber("accuracyAfter", m.After.Accuracy);
                Number(j, "lossAfter", m.After.Loss);
                Number(j, "finalTrainLoss", m.Run.FinalLoss());
                j.WriteNumber("msPerStep", m.Run.MillisecondsPerStep);
                j.WriteNumber("seconds", m.Run.Seconds);
                j.WriteNumber("learningRate", m.Search.Chosen);
                j.WriteStartArray("learningRateSearch");
                foreach (var t in m.Search.Trials)
                {
                    j.WriteStartObject();
                    j.WriteNumber("rate", t.Rate);
                    j.WriteNumber("validationAccuracy", t.Validation.Accuracy);
                    Number(j, "validationLoss", t.Validation.Loss);
                    j.WriteEndObject();
                }
                j.WriteEndArray();
                j.WriteEndObject();
            }
            j.WriteEndArray();
            j.WriteNumber("mergedSaraAccuracy", r.MergedSara.Accuracy);
            Number(j, "mergedMaxLogitDifference", r.MergedMaxLogitDifference);
            j.WriteStartArray("moSaraFindings");
            foreach (var line in MoSaraFindings(r)) j.WriteStringValue(line);
            j.WriteEndArray();
            j.WriteNumber("totalSeconds", r.TotalSeconds);
            j.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>What the run shows about Mo-SARA, in plain words, from the measured figures only.</summary>
    public static IEnumerable<string> MoSaraFindings(DemoResult r)
    {
        var mo = r.Methods.FirstOrDefault(m => m.Method.StartsWith("Mo-SARA", StringComparison.Ordinal));
        if (mo is null) yield break;
        var bestVal = mo.Search.Trials.Max(t => t.Validation.Accuracy);
        var gain = mo.After.Accuracy - r.ShiftBefore.Accuracy;
        yield return $"Mo-SARA ({mo.TrainableParameters:N0} trainable parameters): its best validation accuracy over the {mo.Search.Trials.Count} rates is "
                     + $"{Pct(bestVal)} against {Pct(r.ValidationBefore.Accuracy)} for the unadapted model ({Points(bestVal - r.ValidationBefore.Accuracy)}); "
                     + $"at its chosen rate {Rate(mo.Search.Chosen)} the test accuracy goes {Pct(r.ShiftBefore.Accuracy)} -> {Pct(mo.After.Accuracy)} "
                     + $"({Points(gain)}) while the test loss goes {F(r.ShiftBefore.Loss, 4)} -> {F(mo.After.Loss, 4)}"
                     + (gain < 0.02 && mo.After.Loss < r.ShiftBefore.Loss
                         ? ": it becomes less confidently wrong but does not learn the shifted labels, at any learning rate tried."
                         : ".");
        var frozen = r.Methods.FirstOrDefault(m => m.Method == "SARA (lambda only)");
        var sara = r.Methods.FirstOrDefault(m => m.Method == "SARA");
        if (frozen is null || sara is null) yield break;
        var frozenGain = frozen.After.Accuracy - r.ShiftBefore.Accuracy;
        var saraGain = sara.After.Accuracy - r.ShiftBefore.Accuracy;
        yield return $"SARA with the same frozen directions and no experts (lambda only, {frozen.TrainableParameters:N0} parameters) gets {Pct(frozen.After.Accuracy)} "
                     + $"({Points(frozenGain)}); SARA training the directions too gets {Pct(sara.After.Accuracy)} ({Points(saraGain)})"
                     + (gain < 0.02 && frozenGain < 0.02 && saraGain > 0.1
                         ? ". So on this task it is not the learning rate and not the mixture of experts: rescaling the pretrained singular "
                           + "directions cannot follow this shift, and Mo-SARA keeps them frozen."
                         : ".");
    }

    private static string Points(double delta) => (delta >= 0 ? "+" : "") + (100 * delta).ToString("F2", Inv) + " points";

    /// <summary>A number, or null when it is not finite (a diverged run): JSON has no NaN.</summary>
    private static void Number(Utf8JsonWriter j, string name, double v)
    {
        if (double.IsFinite(v)) j.WriteNumber(name, v);
        else j.WriteNull(name);
    }

    private static string Rate(float rate) => rate.ToString("0.####", Inv);

    private static string Pct(double v) => (100 * v).ToString("F2", Inv) + " %";
    private static string F(double v, int digits) => v.ToString("F" + digits, Inv);
}
