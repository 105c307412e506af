// `sara demo` with few steps: the output folder's files, and the printed figures re-derived from those files and the task's data.
using System.Globalization;
using Sara.Cli.Demo;
using Sara.Native.IO;

namespace Sara.Tests.Cli;

public sealed class DemoCommandTests : CliTestBase
{
    [Test]
    public void TheDemoRunsOnTheEmulatedGpuPathWithTheSameRanksAsOnTheCpu()
    {
        var seed = Random.Shared.Next(1, 1000).ToString(CultureInfo.InvariantCulture);
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
        var seed = Random.Shared.Next(1, 1000);
        var outDir = PathOf("demo");
        var run = Sara("demo", "--steps", "25", "--seed", seed.ToString(CultureInfo.InvariantCulture), "--device", "cpu", "--out", outDir);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);

        string F(string name) => Path.Combine(outDir, name);
        foreach (var name in new[] { "base_model.safetensors", "sara_adapter.safetensors", "sara_merged_model.safetensors",
                     "mosara_adapter.safetensors", "loss_curves.png", "demo_summary.json" })
            Assert.That(new FileInfo(F(name)).Length, Is.GreaterThan(100), name);
        Assert.That(File.ReadAllBytes(F("loss_curves.png"))[1..4], Is.EqualTo("PNG"u8.ToArray()));

        var sara = AdapterFile.Load(F("sara_adapter.safetensors"));
        var mo = AdapterFile.Load(F("mosara_adapter.safetensors"));
        var baseMlp = DemoRunner.LoadMlp(F("base_model.safetensors"));
        var mergedMlp = DemoRunner.LoadMlp(F("sara_merged_model.safetensors"));

        var fullRow = Row(run.Out, "full fine-tuning");
        var saraRow = Row(run.Out, "SARA");
        var moRow = Row(run.Out, $"Mo-SARA (E={mo.Metadata.Experts})");
        Assert.That(Count(fullRow[2]), Is.EqualTo(baseMlp.Layers.Sum(l => (long)l.Rows * l.Cols + l.Rows)));
        Assert.That(saraRow[1], Is.EqualTo(string.Join("/", sara.Layers.Select(l => l.K))));
        Assert.That(Count(saraRow[2]), Is.EqualTo(sara.Layers.Sum(l => (long)l.K + l.M * l.K + l.K * l.N)));
        Assert.That(moRow[1], Is.EqualTo(string.Join("/", mo.Layers.Select(l => l.K))));
        var e = mo.Metadata.Experts;
        Assert.That(Count(moRow[2]), Is.EqualTo(mo.Layers.Sum(l => 2L * e * l.K + e)));

        // Accuracies printed for "before" and for SARA "after" recomputed in float64 from the saved weights on the same data.
        var settings = new DemoSettings(null, seed, 25, outDir);
        var (_, _, _, shiftTest) = new SyntheticTask(seed).Build(settings.TrainCount, settings.TestCount);
        Assert.That(Number(saraRow[3 + 1]), Is.EqualTo(100 * Accuracy(baseMlp, shiftTest)).Within(0.25), "acc before");
        Assert.That(Number(saraRow[5]), Is.EqualTo(100 * Accuracy(mergedMlp, shiftTest)).Within(0.25), "SARA acc after");
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

    private static double Accuracy(HostMlp mlp, DataSet data)
    {
        var logits = mlp.Logits(data.Inputs, data.Count);
        var correct = 0;
        for (var s = 0; s < data.Count; s++)
            if (Trainer.ArgMax(logits.AsSpan(s * data.Classes, data.Classes)) == data.Labels[s]) correct++;
        return (double)correct / data.Count;
    }
}
