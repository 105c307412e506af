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
        c.WriteLine($"Adaptation: all three layers, {s.Steps} AdamW steps of batch {s.BatchSize} per method, from the same pretrained weights.");
        c.WriteLine();

        var plan = new Table().Title(Markup.Escape($"SARA rank plan ({s.Rank.Criterion}, tau {s.Rank.Tau.ToString(Inv)}, k in [{s.Rank.KMin}, {s.Rank.KMax}])"));
        plan.AddColumn("layer");
        foreach (var h in new[] { "shape", "k", "fraction reached", "seconds" }) plan.AddColumn(new TableColumn(h).RightAligned());
        foreach (var l in r.SaraPlan)
            plan.AddRow(Markup.Escape(l.Layer), $"{l.Rows}x{l.Cols}", l.K.ToString(Inv), F(l.FractionReached, 4), F(l.Seconds, 4));
        c.Write(plan);

        var table = new Table().Title("adaptation to the shifted task (measured)");
        table.AddColumn("method");
        foreach (var h in new[] { "ranks", "trainable params", "% of full", "acc before", "acc after", "test loss after", "train loss (last 20)", "ms/step", "seconds" })
            table.AddColumn(new TableColumn(h).RightAligned());
        var fullParams = r.Methods[0].TrainableParameters;
        foreach (var m in r.Methods)
            table.AddRow(Markup.Escape(m.Method), string.Join("/", m.Ranks.Select(x => x.K)), m.TrainableParameters.ToString("N0", Inv),
                F(100.0 * m.TrainableParameters / fullParams, 2), Pct(r.ShiftBefore.Accuracy), Pct(m.After.Accuracy), F(m.After.Loss, 4),
                F(m.Run.FinalLoss(), 4), F(m.Run.MillisecondsPerStep, 2), F(m.Run.Seconds, 2));
        table.Caption(Markup.Escape("ranks: k per layer (l1/l2/l3; min(m, n) for full fine-tuning); full fine-tuning trains weights and biases, "
                      + "SARA lambda + A + B, Mo-SARA Lambda + router (2Ek + E per layer)"));
        c.Write(table);

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
            j.WriteNumber("shiftLossBefore", r.ShiftBefore.Loss);
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
                j.WriteNumber("lossAfter", m.After.Loss);
                j.WriteNumber("finalTrainLoss", m.Run.FinalLoss());
                j.WriteNumber("msPerStep", m.Run.MillisecondsPerStep);
                j.WriteNumber("seconds", m.Run.Seconds);
                j.WriteEndObject();
            }
            j.WriteEndArray();
            j.WriteNumber("mergedSaraAccuracy", r.MergedSara.Accuracy);
            j.WriteNumber("mergedMaxLogitDifference", r.MergedMaxLogitDifference);
            j.WriteNumber("totalSeconds", r.TotalSeconds);
            j.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    private static string Pct(double v) => (100 * v).ToString("F2", Inv) + " %";
    private static string F(double v, int digits) => v.ToString("F" + digits, Inv);
}
