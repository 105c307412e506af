using System.Diagnostics;
using Sara.Native.Backends;
using Sara.Native.IO;
using Sara.Native.Layers;
using Sara.Native.Peft;
using Sara.Native.Svd;

namespace Sara.Cli.Demo;

/// <summary>One adaptation method's measured figures, with the learning-rate search that chose its rate.</summary>
public sealed record MethodResult(string Method, long TrainableParameters, IReadOnlyList<(string Layer, int K)> Ranks,
    Evaluation After, TrainRun Run, SearchResult Search);

/// <summary>Everything the demo measured (printed by <see cref="DemoReport"/>, saved as demo_summary.json).</summary>
public sealed record DemoResult(string Device, string DeviceDescription, DemoSettings Settings, double LabelChangeFraction,
    long DenseParameters, TrainRun Pretrain, Evaluation SourceAfterPretrain, Evaluation ShiftBefore, Evaluation ValidationBefore,
    IReadOnlyList<LayerRank> SaraPlan, int MatchedLoraRank, IReadOnlyList<MethodResult> Methods, Evaluation MergedSara,
    double MergedMaxLogitDifference, IReadOnlyList<string> Files, double TotalSeconds);

/// <summary>
/// The demo: pretrain a dense MLP on the source task, then adapt all three of its layers to the shifted task from the same
/// pretrained weights by full fine-tuning, SARA, SARA with frozen directions, LoRA at SARA's parameter count and at r = 8,
/// and Mo-SARA; each method's learning rate comes from the same search on a validation split. Measures each on the
/// shifted test set and writes the artifacts.
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
        var (srcTrain, srcTest, shiftDraw, shiftTest) = task.Build(s.TrainCount, s.TestCount);
        var (shiftTrain, shiftValidation) = shiftDraw.Split(s.TrainCount - s.ValidationCount);
        var labelChange = task.LabelChangeFraction(shiftTest);
        using var srcTrainB = new DeviceBatches(backend, srcTrain, s.BatchSize);
        using var srcTestB = new DeviceBatches(backend, srcTest, 1024);
        using var shiftTrainB = new DeviceBatches(backend, shiftTrain, s.BatchSize);
        using var shiftValB = new DeviceBatches(backend, shiftValidation, 1024);
        using var shiftTestB = new DeviceBatches(backend, shiftTest, 1024);

        // 1. Pretrain the dense MLP on the source task.
        log($"pretraining the dense MLP for {s.PretrainSteps} steps ...");
        HostMlp pretrained;
        TrainRun pretrain;
        Evaluation sourceAfter, shiftBefore, validationBefore;
        long denseParameters;
        using (var dense = DemoModel.Dense(backend, HostMlp.Init(DemoSettings.Widths, s.Seed + 1)))
        {
            pretrain = Trainer.Train(backend, dense, srcTrainB, s.PretrainSteps, new AdamWOptions(s.PretrainLearningRate));
            sourceAfter = Trainer.Evaluate(dense, srcTestB);
            shiftBefore = Trainer.Evaluate(dense, shiftTestB);
            validationBefore = Trainer.Evaluate(dense, shiftValB);
            denseParameters = dense.TrainableParameterCount;
            pretrained = Download(dense);
        }
        var files = new List<string>();
        var basePath = Path.Combine(s.OutputFolder, "base_model.safetensors");
        SaveMlp(pretrained, basePath);
        files.Add(basePath);

        // 2. SARA's rank plan and factors, once: every SARA and Mo-SARA model of the search starts from them.
        log("SARA: rank plan + truncated SVD of each layer ...");
        var factors = SaraFactorsOf(backend, pretrained, s.Rank);
        var saraParameters = factors.Zip(pretrained.Layers, (f, l) => (long)f.K * (l.Rows + l.Cols + 1)).Sum();
        var matchedRank = (int)Math.Max(1, Math.Round((double)saraParameters / pretrained.Layers.Sum(l => l.Rows + l.Cols)));
        var moOptions = new MoSaraOptions { Rank = s.Rank, Experts = s.Experts, CollectRouterStats = false, RouterSeed = s.Seed };

        // 3. Adapt, each method with the rate its search chose.
        var methods = new List<MethodResult>();
        Evaluation merged = shiftBefore;
        double mergedDiff = double.NaN;
        MethodResult Adapt(string name, Func<DemoModel> build, IReadOnlyList<(string, int)> ranks, Action<DemoModel>? save = null)
        {
            log($"{name}: learning-rate search ({s.LearningRates.Count} rates x {s.SearchSteps} steps), the best continued to {s.Steps} steps ...");
            var (search, winner) = LearningRateSearch.Run(backend, build, shiftTrainB, shiftValB, s);
            using var _ = winner;
            var model = winner.Model;
            var run = winner.Run.Then(Trainer.Train(backend, model, shiftTrainB, s.Steps - s.SearchSteps, winner.Optimizer, s.SearchSteps));
            var result = new MethodResult(name, model.TrainableParameterCount, ranks, Trainer.Evaluate(model, shiftTestB), run, search);
            methods.Add(result);
            save?.Invoke(model);
            return result;
        }
        var saraRanks = pretrained.Layers.Zip(factors, (l, f) => (l.Name, f.K)).ToList();

        Adapt("full fine-tuning", () => DemoModel.Dense(backend, pretrained), pretrained.Layers.Select(l => (l.Name, Math.Min(l.Rows, l.Cols))).ToList());
        Adapt("SARA", () => DemoModel.Sara(backend, pretrained, factors, new SaraOptions { Rank = s.Rank }), saraRanks, model =>
        {
            var saraLayers = model.Owners<SaraLinear>();
            var adapterPath = Path.Combine(s.OutputFolder, "sara_adapter.safetensors");
            SaraAdapter(saraLayers, s.Rank).Save(adapterPath);
            files.Add(adapterPath);
            var adapterLogits = Logits(model, shiftTestB);
            foreach (var l in saraLayers) l.Merge();
            merged = Trainer.Evaluate(model, shiftTestB);
            mergedDiff = adapterLogits.Zip(Logits(model, shiftTestB), (a, b) => (double)Math.Abs(a - b)).Max();
            var mergedMlp = new HostMlp(saraLayers.Zip(pretrained.Layers, (l, p) => p with { Weight = l.W0.ToArray() }).ToList());
            var mergedPath = Path.Combine(s.OutputFolder, "sara_merged_model.safetensors");
            SaveMlp(mergedMlp, mergedPath);
            files.Add(mergedPath);
        });
        Adapt("SARA (lambda only)", () => DemoModel.Sara(backend, pretrained, factors, new SaraOptions { Rank = s.Rank, TrainFactors = false }), saraRanks);
        foreach (var rank in new[] { matchedRank, s.LoraRank }.Distinct())
            Adapt($"LoRA (r={rank})", () => DemoModel.Lora(backend, pretrained, rank, s.LoraAlpha, s.Seed * 1000 + rank),
                pretrained.Layers.Select(l => (l.Name, rank)).ToList(), rank != s.LoraRank ? null : model =>
                {
                    var folder = Path.Combine(s.OutputFolder, "lora_peft");
                    LoraAsPeft(model.Owners<LoraLinear>(), s.LoraAlpha).Save(folder);
                    files.Add(folder);
                });
        Adapt($"Mo-SARA (E={s.Experts})", () => DemoModel.MoSara(backend, pretrained, factors, moOptions), saraRanks, model =>
        {
            var adapterPath = Path.Combine(s.OutputFolder, "mosara_adapter.safetensors");
            MoSaraAdapter(model.Owners<MoSaraLinear>(), s.Rank).Save(adapterPath);
            files.Add(adapterPath);
        });

        var plotPath = Path.Combine(s.OutputFolder, "loss_curves.png");
        LossPlot.Save(plotPath, pretrain.Losses, methods.Select(m => (m.Method, m.Run.Losses)).ToList());
        files.Add(plotPath);

        var result = new DemoResult(backend.Name, backend.Description, s, labelChange, denseParameters, pretrain, sourceAfter, shiftBefore,
            validationBefore, factors.Select(f => f.Plan).ToList(), matchedRank, methods, merged, mergedDiff, files, total.Elapsed.TotalSeconds);
        var summaryPath = Path.Combine(s.OutputFolder, "demo_summary.json");
        files.Add(summaryPath);
        AtomicFile.WriteAllText(summaryPath, DemoReport.Json(result));
        return result;
    }

    /// <summary>Each layer's rank plan and A = U_k, B = V_k^T (SaraLinear.FromPretrained once per layer, downloaded).</summary>
    private static List<SaraFactors> SaraFactorsOf(Backend backend, HostMlp w, RankOptions rank) => w.Layers.Select(l =>
    {
        using var sara = SaraLinear.FromPretrained(backend, l.Name, l.Weight, l.Rows, l.Cols, l.Bias, new SaraOptions { Rank = rank });
        return new SaraFactors(sara.K, sara.A.Value.ToArray(), sara.B.Value.ToArray(), sara.Plan!);
    }).ToList();

    /// <summary>The trained LoRA layers as a PEFT folder (keys base_model.model.&lt;layer&gt;.lora_A.weight, r and lora_alpha as trained).</summary>
    private static PeftLora LoraAsPeft(IReadOnlyList<LoraLinear> layers, double alpha) => new(
        new PeftLoraConfig { R = layers[0].Rank, LoraAlpha = alpha, TargetModules = layers.Select(l => l.Name).ToList() },
        layers.Select(l => new PeftModule(PeftLoraConfig.DefaultPrefix + l.Name, l.Name, l.Rank, l.InFeatures, l.OutFeatures,
            l.LoraA.Value.ToArray(), l.LoraB.Value.ToArray())).ToList());

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
