using System.Diagnostics;
using Sara.Native.Backends;
using Sara.Native.IO;
using Sara.Native.Layers;
using Sara.Native.Svd;

namespace Sara.Cli.Demo;

/// <summary>One adaptation method's measured figures.</summary>
public sealed record MethodResult(string Method, long TrainableParameters, IReadOnlyList<(string Layer, int K)> Ranks,
    Evaluation After, TrainRun Run);

/// <summary>Everything the demo measured (printed by <see cref="DemoReport"/>, saved as demo_summary.json).</summary>
public sealed record DemoResult(string Device, string DeviceDescription, DemoSettings Settings, double LabelChangeFraction,
    long DenseParameters, TrainRun Pretrain, Evaluation SourceAfterPretrain, Evaluation ShiftBefore,
    IReadOnlyList<LayerRank> SaraPlan, IReadOnlyList<MethodResult> Methods, Evaluation MergedSara, double MergedMaxLogitDifference,
    IReadOnlyList<string> Files, double TotalSeconds);

/// <summary>
/// The demo: pretrain a dense MLP on the source task, then adapt all three of its layers to the shifted task three ways
/// (full fine-tuning, SARA, Mo-SARA) from the same pretrained weights, measure each, and write the artifacts.
/// </summary>
internal static class DemoRunner
{
    public static DemoResult Run(DemoSettings s, Action<string> log)
    {
        var total = Stopwatch.StartNew();
        using var backend = Devices.Create(s.Device);
        log($"device: {backend.Description}");
        Directory.CreateDirectory(s.OutputFolder);

        var task = new SyntheticTask(s.Seed);
        var (srcTrain, srcTest, shiftTrain, shiftTest) = task.Build(s.TrainCount, s.TestCount);
        var labelChange = task.LabelChangeFraction(shiftTest);
        using var srcTrainB = new DeviceBatches(backend, srcTrain, s.BatchSize);
        using var srcTestB = new DeviceBatches(backend, srcTest, 1024);
        using var shiftTrainB = new DeviceBatches(backend, shiftTrain, s.BatchSize);
        using var shiftTestB = new DeviceBatches(backend, shiftTest, 1024);

        // 1. Pretrain the dense MLP on the source task.
        log($"pretraining the dense MLP for {s.PretrainSteps} steps ...");
        HostMlp pretrained;
        TrainRun pretrain;
        Evaluation sourceAfter, shiftBefore;
        long denseParameters;
        using (var dense = DemoModel.Dense(backend, HostMlp.Init(DemoSettings.Widths, s.Seed + 1)))
        {
            pretrain = Trainer.Train(backend, dense, srcTrainB, s.PretrainSteps, new AdamWOptions(s.PretrainLearningRate));
            sourceAfter = Trainer.Evaluate(dense, srcTestB);
            shiftBefore = Trainer.Evaluate(dense, shiftTestB);
            denseParameters = dense.TrainableParameterCount;
            pretrained = Download(dense);
        }
        var files = new List<string>();
        var basePath = Path.Combine(s.OutputFolder, "base_model.safetensors");
        SaveMlp(pretrained, basePath);
        files.Add(basePath);

        // 2. Adapt three ways from the same pretrained weights.
        var methods = new List<MethodResult>();
        log($"full fine-tuning for {s.Steps} steps ...");
        using (var full = DemoModel.Dense(backend, pretrained))
        {
            var run = Trainer.Train(backend, full, shiftTrainB, s.Steps, new AdamWOptions(s.FullLearningRate));
            methods.Add(new MethodResult("full fine-tuning", full.TrainableParameterCount,
                pretrained.Layers.Select(l => (l.Name, Math.Min(l.Rows, l.Cols))).ToList(), Trainer.Evaluate(full, shiftTestB), run));
        }

        log($"SARA: rank plan + truncated SVD of each layer, then {s.Steps} steps ...");
        IReadOnlyList<LayerRank> saraPlan;
        Evaluation merged;
        double mergedDiff;
        using (var sara = DemoModel.Sara(backend, pretrained, new SaraOptions { Rank = s.Rank }, out var saraLayers))
        {
            saraPlan = saraLayers.Select(l => l.Plan!).ToList();
            var run = Trainer.Train(backend, sara, shiftTrainB, s.Steps, new AdamWOptions(s.SaraLearningRate));
            var after = Trainer.Evaluate(sara, shiftTestB);
            methods.Add(new MethodResult("SARA", sara.TrainableParameterCount, saraLayers.Select(l => (l.Name, l.K)).ToList(), after, run));
            var adapterPath = Path.Combine(s.OutputFolder, "sara_adapter.safetensors");
            SaraAdapter(saraLayers, s.Rank).Save(adapterPath);
            files.Add(adapterPath);

            var adapterLogits = Logits(sara, shiftTestB);
            foreach (var l in saraLayers) l.Merge();
            merged = Trainer.Evaluate(sara, shiftTestB);
            mergedDiff = adapterLogits.Zip(Logits(sara, shiftTestB), (a, b) => (double)Math.Abs(a - b)).Max();
            var mergedMlp = new HostMlp(saraLayers.Zip(pretrained.Layers, (l, p) => p with { Weight = l.W0.ToArray() }).ToList());
            var mergedPath = Path.Combine(s.OutputFolder, "sara_merged_model.safetensors");
            SaveMlp(mergedMlp, mergedPath);
            files.Add(mergedPath);
        }

        log($"Mo-SARA (E = {s.Experts}): {s.Steps} steps ...");
        var moOptions = new MoSaraOptions { Rank = s.Rank, Experts = s.Experts, CollectRouterStats = false, RouterSeed = s.Seed };
        using (var mo = DemoModel.MoSara(backend, pretrained, moOptions, out var moLayers))
        {
            var run = Trainer.Train(backend, mo, shiftTrainB, s.Steps, new AdamWOptions(s.MoSaraLearningRate));
            methods.Add(new MethodResult($"Mo-SARA (E={s.Experts})", mo.TrainableParameterCount, moLayers.Select(l => (l.Name, l.K)).ToList(),
                Trainer.Evaluate(mo, shiftTestB), run));
            var adapterPath = Path.Combine(s.OutputFolder, "mosara_adapter.safetensors");
            MoSaraAdapter(moLayers, s.Rank).Save(adapterPath);
            files.Add(adapterPath);
        }

        var plotPath = Path.Combine(s.OutputFolder, "loss_curves.png");
        LossPlot.Save(plotPath, pretrain.Losses, methods.Select(m => (m.Method, m.Run.Losses)).ToList());
        files.Add(plotPath);

        var result = new DemoResult(backend.Name, backend.Description, s, labelChange, denseParameters, pretrain, sourceAfter, shiftBefore,
            saraPlan, methods, merged, mergedDiff, files, total.Elapsed.TotalSeconds);
        var summaryPath = Path.Combine(s.OutputFolder, "demo_summary.json");
        files.Add(summaryPath);
        AtomicFile.WriteAllText(summaryPath, DemoReport.Json(result));
        return result;
    }

    private static HostMlp Download(DemoModel dense) => new(dense.Layers.Select(l =>
    {
        var w = l.Parameters[0].Value;
        return new HostLayer(l.Name, w.Rows, w.Cols, w.ToArray(), l.Parameters[1].Value.ToArray());
    }).ToList());

    private static float[] Logits(DemoModel model, DeviceBatches data)
    {
        var all = new List<float>();
        for (var b = 0; b < data.Count; b++)
        {
            using var scope = new Native.Tensors.TensorScope();
            all.AddRange(model.Forward(new Native.Autograd.Tape(), new Native.Autograd.Variable(data[b].X)).Value.ToArray());
        }
        return all.ToArray();
    }

    public static void SaveMlp(HostMlp mlp, string path)
    {
        var writer = new SafetensorsWriter();
        writer.Metadata["model"] = "sara-demo-mlp";
        writer.Metadata["layers"] = string.Join(",", mlp.Layers.Select(l => $"{l.Name}:{l.Rows}x{l.Cols}"));
        foreach (var l in mlp.Layers)
        {
            writer.Add($"{l.Name}.weight", [l.Rows, l.Cols], l.Weight);
            writer.Add($"{l.Name}.bias", [l.Rows], l.Bias);
        }
        writer.Save(path);
    }

    /// <summary>Loads a file written by <see cref="SaveMlp"/> (layers in file order).</summary>
    public static HostMlp LoadMlp(string path)
    {
        using var file = SafetensorsFile.Open(path);
        var layers = new List<HostLayer>();
        foreach (var t in file.Tensors.Where(t => t.Name.EndsWith(".weight", StringComparison.Ordinal)))
        {
            var name = t.Name[..^".weight".Length];
            layers.Add(new HostLayer(name, (int)t.Shape[0], (int)t.Shape[1], file.ReadFloats(t.Name), file.ReadFloats(name + ".bias")));
        }
        return new HostMlp(layers);
    }

    private static AdapterFile SaraAdapter(IEnumerable<SaraLinear> layers, RankOptions rank)
    {
        var list = layers.ToList();
        var file = new AdapterFile(AdapterMetadata.Create(AdapterMethod.Sara, rank.Criterion.ToString(), rank.Tau, list[0].Options.Scale));
        foreach (var l in list)
            file.AddLayer(AdapterLayer.Sara(l.Name, l.OutFeatures, l.InFeatures, l.Lambda.Value.ToArray(), l.A.Value.ToArray(), l.B.Value.ToArray()));
        return file;
    }

    private static AdapterFile MoSaraAdapter(IEnumerable<MoSaraLinear> layers, RankOptions rank)
    {
        var list = layers.ToList();
        var file = new AdapterFile(AdapterMetadata.Create(AdapterMethod.MoSara, rank.Criterion.ToString(), rank.Tau, list[0].Options.Scale, list[0].Experts));
        foreach (var l in list)
            file.AddLayer(AdapterLayer.MoSara(l.Name, l.OutFeatures, l.InFeatures, l.K, l.Lambdas.Value.ToArray(), l.Wg.Value.ToArray(),
                l.Bg.Value.ToArray(), l.A.ToArray(), l.B.ToArray()));
        return file;
    }
}
