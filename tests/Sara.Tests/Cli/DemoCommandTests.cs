// `sara demo` with few steps: the output folder's files, and the printed figures re-derived from those files and the task's
// data by the test's own float64 scoring (its own MLP forward, argmax, cross-entropy and merge), not the demo's code.
using System.Globalization;
using System.Text.RegularExpressions;
using Sara.Cli.Demo;
using Sara.Native.IO;
using Sara.Tests.Support;

namespace Sara.Tests.Cli;

public sealed partial class DemoCommandTests : CliTestBase
{
    [Test]
    public void TheDemoRunsOnTheEmulatedGpuPathWithTheSameRanksAsOnTheCpu()
    {
        var seed = new Rand().Int(1, 1000).ToString(CultureInfo.InvariantCulture);
        var emu = Sara("demo", "--steps", "3", "--seed", seed, "--device", "emu", "--out", PathOf("emu"));
        Assert.That(emu.ExitCode, Is.EqualTo(0), emu.Err);
        Assert.That(emu.Out, Does.Contain("on emu"));
        var cpu = Sara("demo", "--steps", "3", "--seed", seed, "--device", "cpu", "--out", PathOf("cpu"));
        Assert.That(cpu.ExitCode, Is.EqualTo(0), cpu.Err);
        Assert.That(Row(emu.Out, "SARA")[1], Is.EqualTo(Row(cpu.Out, "SARA")[1]), "ranks chosen (the exact spectrum path on both)");
        Assert.That(AdapterFile.Load(Path.Combine(PathOf("emu"), "sara_adapter.safetensors")).Layers, Is.Not.Empty);
    }

    [Test]
    public void ShortRunWritesItsFilesAndPrintsFiguresTheFilesReproduce()
    {
        var seed = new Rand().Int(1, 1000);
        var outDir = PathOf("demo");
        var run = Sara("demo", "--steps", "25", "--seed", seed.ToString(CultureInfo.InvariantCulture), "--device", "cpu", "--out", outDir);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);

        string F(string name) => Path.Combine(outDir, name);
        foreach (var name in new[] { "base_model.safetensors", "sara_adapter.safetensors", "sara_merged_model.safetensors",
                     "mosara_adapter.safetensors", "loss_curves.png", "demo_summary.json", "lora_peft/adapter_model.safetensors", "lora_peft/adapter_config.json" })
            Assert.That(new FileInfo(F(name)).Length, Is.GreaterThan(100), name);
        Assert.That(File.ReadAllBytes(F("loss_curves.png"))[1..4], Is.EqualTo("PNG"u8.ToArray()));

        var sara = AdapterFile.Load(F("sara_adapter.safetensors"));
        var mo = AdapterFile.Load(F("mosara_adapter.safetensors"));
        var baseMlp = ReadMlp(F("base_model.safetensors"));
        var mergedMlp = ReadMlp(F("sara_merged_model.safetensors"));
        Assert.That(baseMlp.Select(l => (l.Rows, l.Cols)), Is.EqualTo(new[] { (256, 32), (256, 256), (8, 256) }), "the demo's 32-256-256-8 MLP");

        var fullRow = Row(run.Out, "full fine-tuning");
        var saraRow = Row(run.Out, "SARA");
        var moRow = Row(run.Out, $"Mo-SARA (E={mo.Metadata.Experts})");
        Assert.That(Count(fullRow[2]), Is.EqualTo(baseMlp.Sum(l => (long)l.Rows * l.Cols + l.Rows)));
        Assert.That(saraRow[1], Is.EqualTo(string.Join("/", sara.Layers.Select(l => l.K))));
        Assert.That(Count(saraRow[2]), Is.EqualTo(sara.Layers.Sum(l => (long)l.K + l.M * l.K + l.K * l.N)));
        Assert.That(moRow[1], Is.EqualTo(string.Join("/", mo.Layers.Select(l => l.K))));
        var e = mo.Metadata.Experts;
        Assert.That(Count(moRow[2]), Is.EqualTo(mo.Layers.Sum(l => 2L * e * l.K + e)));
        var frozenRow = Row(run.Out, "SARA (lambda only)");
        Assert.That(frozenRow[1], Is.EqualTo(saraRow[1]));
        Assert.That(Count(frozenRow[2]), Is.EqualTo(sara.Layers.Sum(l => (long)l.K)));
        // LoRA at the rank whose r (m + n) is closest to SARA's count, and at r = 8.
        var sumMn = baseMlp.Sum(l => (long)l.Rows + l.Cols);
        var matched = (int)Math.Max(1, Math.Round((double)Count(saraRow[2]) / sumMn));
        var loraRows = new[] { matched, 8 }.Distinct().Select(r => (R: r, Cells: Row(run.Out, $"LoRA (r={r})"))).ToList();
        foreach (var (r, cells) in loraRows)
        {
            Assert.That(cells[1], Is.EqualTo($"{r}/{r}/{r}"));
            Assert.That(Count(cells[2]), Is.EqualTo(r * sumMn), $"LoRA r = {r}: r (m + n) per layer");
        }
        // Every method's learning rate is one of the search's, and the search table lists each method.
        var grid = new DemoSettings(null, seed, 25, outDir).LearningRates.Select(v => (double)v).ToList();
        foreach (var row in new[] { fullRow, saraRow, frozenRow, moRow }.Concat(loraRows.Select(x => x.Cells)))
            Assert.That(grid, Has.Some.EqualTo(Number(row[10])).Within(1e-9), $"{row[0]}: chosen learning rate {row[10]}");
        Assert.That(run.Out, Does.Contain("learning-rate search: validation accuracy after 4 steps"));
        Assert.That(run.Out, Does.Contain("Mo-SARA (").And.Contain("its best validation accuracy over the 4 rates"));

        // The saved merged model is W0 + s A diag(lambda) B of the saved base and adapter (float64 here).
        Assert.That(sara.Layers, Has.Count.EqualTo(baseMlp.Length));
        foreach (var layer in sara.Layers)
        {
            var w0 = baseMlp.Single(l => l.Name == layer.Name);
            var want = MergeCommandTests.Oracle(w0.Weight, layer, sara.Metadata.Scale);
            var got = mergedMlp.Single(l => l.Name == w0.Name).Weight;
            Oracle.AssertClose(got, want, 1e-6, $"merged {w0.Name}");
        }

        // Accuracies and loss printed for "before" and for SARA "after", recomputed in float64 from the saved weights on
        // the same data (the demo's task, rebuilt from its seed).
        var settings = new DemoSettings(null, seed, 25, outDir);
        var (_, _, _, shiftTest) = new SyntheticTask(seed).Build(settings.TrainCount, settings.TestCount);
        var before = Score(baseMlp, shiftTest.Inputs, shiftTest.Labels);
        var after = Score(mergedMlp, shiftTest.Inputs, shiftTest.Labels);
        TestContext.Out.WriteLine($"float64 scoring: before {100 * before.Accuracy:F2} % (loss {before.Loss:F4}), merged SARA {100 * after.Accuracy:F2} % (loss {after.Loss:F4})");
        Assert.That(Number(saraRow[3 + 1]), Is.EqualTo(100 * before.Accuracy).Within(0.25), "acc before");
        Assert.That(Number(saraRow[5]), Is.EqualTo(100 * after.Accuracy).Within(0.25), "SARA acc after");
        var mergedLine = MergedLine().Match(run.Out);
        Assert.That(mergedLine.Success, Is.True, "the merged-model line");
        Assert.That(double.Parse(mergedLine.Groups[1].Value, CultureInfo.InvariantCulture), Is.EqualTo(100 * after.Accuracy).Within(0.1), "merged accuracy");
        Assert.That(double.Parse(mergedLine.Groups[2].Value, CultureInfo.InvariantCulture), Is.EqualTo(after.Loss).Within(2e-4 + 1e-4 * after.Loss), "merged loss");
        // The LoRA r = 8 row re-scored from the saved PEFT folder: W0 + scaling lora_B lora_A, by the tests' own PEFT reference.
        var peft = Peft.PeftReference.Load(F("lora_peft"));
        Assert.That((peft.R, peft.Alpha), Is.EqualTo((8, 8.0)));
        var loraMlp = baseMlp.Select(l => l with
        {
            Weight = Oracle.Add(Oracle.D(l.Weight), peft.Update(l.Name, Peft.PeftReference.Rule.Current)).Select(v => (float)v).ToArray(),
        }).ToArray();
        var lora8 = Score(loraMlp, shiftTest.Inputs, shiftTest.Labels);
        Assert.That(Number(Row(run.Out, "LoRA (r=8)")[5]), Is.EqualTo(100 * lora8.Accuracy).Within(0.25), "LoRA r = 8 acc after");

        foreach (var row in new[] { fullRow, saraRow, moRow })
        {
            Assert.That(Number(row[8]), Is.GreaterThan(0), "ms/step measured");
            Assert.That(Number(row[7]), Is.GreaterThan(0).And.LessThan(10), "final train loss");
        }

        // `sara merge` of the saved base and SARA adapter reproduces the saved merged model.
        var merged = PathOf("merged.safetensors");
        Assert.That(Sara("merge", F("base_model.safetensors"), F("sara_adapter.safetensors"), "-o", merged, "--device", "cpu").ExitCode, Is.EqualTo(0));
        using var a = SafetensorsFile.Open(merged);
        using var b = SafetensorsFile.Open(F("sara_merged_model.safetensors"));
        foreach (var t in b.Tensors)
        {
            var x = a.ReadFloats(t.Name);
            var y = b.ReadFloats(t.Name);
            var rel = Math.Sqrt(x.Zip(y, (p, q) => (double)(p - q) * (p - q)).Sum() / y.Sum(q => (double)q * q));
            Assert.That(rel, Is.Not.NaN.And.LessThan(1e-6), t.Name);
        }
    }

    [Test]
    public void TheDemosSaraAdapterExportsToPeftAndReproducesItsLayers()
    {
        var seed = new Rand().Int(1, 1000).ToString(CultureInfo.InvariantCulture);
        var outDir = PathOf("demo");
        Assert.That(Sara("demo", "--steps", "12", "--seed", seed, "--device", "cpu", "--out", outDir).ExitCode, Is.EqualTo(0));
        var w0 = ReadMlp(Path.Combine(outDir, "base_model.safetensors")).ToDictionary(l => l.Name, l => l.Weight);
        foreach (var portable in new[] { false, true })
            Peft.PeftExportTests.AssertExportReproducesSara(Path.Combine(outDir, "sara_adapter.safetensors"), w0, portable, PathOf($"peft-{portable}"), new Rand());
        var imported = Sara("import-peft", Path.Combine(outDir, "lora_peft"), "-o", PathOf("from_lora.safetensors"));
        Assert.That(imported.ExitCode, Is.EqualTo(0), imported.Err);
        Assert.That(AdapterFile.Load(PathOf("from_lora.safetensors")).Layers.Select(l => l.Name), Is.EqualTo(new[] { "l1", "l2", "l3" }));
    }

    [Test]
    public void ATrainingRunContinuedGivesTheSameBitsAsOneRun()
    {
        // The learning-rate search continues its winning trial instead of training the chosen rate again from the start.
        var settings = new DemoSettings("cpu", 3, 10, PathOf("x")) { TrainCount = 1024, TestCount = 256 };
        var (train, _, _, _) = new SyntheticTask(settings.Seed).Build(settings.TrainCount, settings.TestCount);
        using var backend = Native.Backends.Devices.Create("cpu");
        using var batches = new DeviceBatches(backend, train, 128);
        var w = HostMlp.Init(DemoSettings.Widths, 5);
        float[] Params(DemoModel m) => m.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();
        using var one = DemoModel.Lora(backend, w, 4, 8, 11);
        var oneRun = Trainer.Train(backend, one, batches, 10, new Native.Backends.AdamWOptions(1e-2f));
        using var two = DemoModel.Lora(backend, w, 4, 8, 11);
        using var adam = new Native.Optim.AdamW(two.Parameters, new Native.Backends.AdamWOptions(1e-2f));
        var twoRun = Trainer.Train(backend, two, batches, 3, adam).Then(Trainer.Train(backend, two, batches, 7, adam, firstStep: 3));
        Assert.That(twoRun.Losses, Is.EqualTo(oneRun.Losses));
        Assert.That(Params(two), Is.EqualTo(Params(one)));
    }

    private sealed record Dense(string Name, int Rows, int Cols, float[] Weight, float[] Bias);

    /// <summary>The MLP's layers as saved: "&lt;name&gt;.weight" (out x in) and "&lt;name&gt;.bias", in file order.</summary>
    private static Dense[] ReadMlp(string path)
    {
        using var file = SafetensorsFile.Open(path);
        return file.Tensors.Where(t => t.Name.EndsWith(".weight", StringComparison.Ordinal)).Select(t =>
        {
            var name = t.Name[..^".weight".Length];
            return new Dense(name, (int)t.Shape[0], (int)t.Shape[1], file.ReadFloats(t.Name), file.ReadFloats(name + ".bias"));
        }).ToArray();
    }

    /// <summary>Float64 forward (ReLU between layers), then accuracy (first largest logit) and mean softmax cross-entropy.</summary>
    private static (double Accuracy, double Loss) Score(Dense[] layers, float[] inputs, int[] labels)
    {
        var count = labels.Length;
        int correct = 0;
        double loss = 0;
        for (var s = 0; s < count; s++)
        {
            var h = inputs.AsSpan(s * layers[0].Cols, layers[0].Cols).ToArray().Select(v => (double)v).ToArray();
            for (var li = 0; li < layers.Length; li++)
            {
                var l = layers[li];
                var next = new double[l.Rows];
                for (var o = 0; o < l.Rows; o++)
                {
                    double acc = l.Bias[o];
                    for (var c = 0; c < l.Cols; c++) acc += (double)l.Weight[o * l.Cols + c] * h[c];
                    next[o] = li < layers.Length - 1 ? Math.Max(acc, 0) : acc;
                }
                h = next;
            }
            var best = 0;
            for (var c = 1; c < h.Length; c++)
                if (h[c] > h[best]) best = c;
            if (best == labels[s]) correct++;
            var max = h.Max();
            loss += Math.Log(h.Sum(v => Math.Exp(v - max))) + max - h[labels[s]];
        }
        return ((double)correct / count, loss / count);
    }

    [GeneratedRegex(@"Merged SARA model .*?accuracy ([\d.]+) %, loss ([\d.]+)")]
    private static partial Regex MergedLine();
}
