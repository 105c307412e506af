// `sara init`: the adapter it writes (loads, trains, matches the SVD), module targeting, Mo-SARA, and the streaming
// guarantees: resume after an interruption, --part + --combine and several devices give the bits of one run; an
// interrupted or killed run leaves no adapter file.
using System.Diagnostics;
using Sara.Cli.Init;
using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.IO;
using Sara.Native.Layers;
using Sara.Native.Optim;
using Sara.Native.Svd;
using Sara.Native.Tensors;
using Sara.Tests.Support;
using Sara.Tests.Svd;

namespace Sara.Tests.Cli;

public sealed class InitCommandTests : CliTestBase
{
    private const int Blocks = 2, Hidden = 256, Inter = 600, Vocab = 100;
    private static readonly string[] Common = ["--device", "cpu", "--max-rank", "8"];

    private string Checkpoint(int blocks = Blocks, int hidden = Hidden, int inter = Inter) =>
        LlamaLikeCheckpoint.Write(PathOf("ckpt"), blocks, hidden, inter, Vocab, new Rand());

    private CliRun Init(params string[] args) => Sara(["init", .. args]);

    [Test]
    public void WritesAnAdapterThatLoadsMatchesTheSvdAndTrains()
    {
        var ckpt = Checkpoint();
        var output = PathOf("out/adapter.safetensors");
        var run = Init([ckpt, "-o", output, .. Common]);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Err, Is.Empty);
        Assert.That(run.Out, Does.Contain("14 weight matrices selected"));
        Assert.That(run.Out, Does.Contain("excluded by default: lm_head.weight (output head), model.embed_tokens.weight (embedding)"));
        Assert.That(run.Out, Does.Contain("[14/14] "));
        Assert.That(Directory.Exists(InitRunner.WorkFolder(output)), Is.False, "the work folder is removed after success");

        var adapter = AdapterFile.Load(output);
        Assert.That(adapter.Metadata.Method, Is.EqualTo(AdapterMethod.Sara));
        Assert.That(adapter.Layers, Has.Count.EqualTo(14));
        Assert.That(adapter.Layers.Select(l => l.Name), Does.Contain("model.layers.1.self_attn.q_proj").And.Contain("model.layers.0.mlp.down_proj"));
        var plan = RankPlan.FromJson(File.ReadAllText(PathOf("out/adapter.plan.json")));
        Assert.That(plan.Layers.Select(l => (l.Layer, l.K)), Is.EqualTo(adapter.Layers.Select(l => (l.Name, l.K))));

        using var source = ShardedSafetensors.Open(ckpt);
        using var backend = new CpuBackend();
        foreach (var layer in adapter.Layers)
        {
            Assert.That(layer.K, Is.InRange(4, 8), layer.Name);
            Assert.That(layer.Tensors["lambda"].Data.All(x => x == 0), Is.True, "lambda starts at zero");
            // A^T W B^T = diag(s_1..s_k) of the stored (bf16) weight: A, B are its leading singular vectors.
            var w = source.ReadFloats(layer.Name + ".weight");
            var s = SubspaceError.SingularValues(Oracle.D(w), layer.M, layer.N);
            var a = Oracle.D(layer.Tensors["A"].Data);
            var core = Oracle.MatMul(Oracle.MatMul(a, layer.M, layer.K, true, Oracle.D(w), layer.M, layer.N, false), layer.K, layer.N, false,
                Oracle.D(layer.Tensors["B"].Data), layer.K, layer.N, true);
            for (var i = 0; i < layer.K; i++)
                for (var j = 0; j < layer.K; j++)
                    Assert.That(Math.Abs(core[i * layer.K + j] - (i == j ? s[i] : 0)), Is.Not.NaN.And.LessThan(1e-3 * s[0]), $"{layer.Name} [{i},{j}]");
        }

        // It trains: lambda moves a q_proj layer towards a target built from its own leading directions.
        var q = adapter["model.layers.0.self_attn.q_proj"];
        var w0 = source.ReadFloats(q.Name + ".weight");
        using var sara = SaraLinear.FromFactors(backend, q.Name, w0, q.M, q.N, null, q.Tensors["A"].Data, q.Tensors["B"].Data, q.K, q.Tensors["lambda"].Data);
        var rand = new Rand();
        const int tokens = 64;
        var xs = rand.Normal(tokens * q.N);
        var wStar = (float[])w0.Clone();
        for (var i = 0; i < q.M; i++)
            for (var j = 0; j < q.N; j++) wStar[i * q.N + j] += 0.5f * q.Tensors["A"].Data[i * q.K] * q.Tensors["B"].Data[j];
        using var x = new Variable(backend.FromArray(xs, tokens, q.N));
        using var wt = backend.FromArray(wStar, q.M, q.N);
        using var target = backend.Empty(tokens, q.M);
        backend.Gemm(x.Value, false, wt, true, target);
        using var optimizer = new AdamW(sara.Parameters, new AdamWOptions(LearningRate: 2e-2f));
        var losses = new List<float>();
        for (var step = 0; step < 30; step++)
        {
            using var scope = new TensorScope();
            var tape = new Tape();
            var loss = Losses.Mse(tape, sara.Forward(tape, x), target);
            tape.Backward();
            optimizer.Step(tape);
            losses.Add(loss);
        }
        Assert.That(losses[^1], Is.Not.NaN.And.LessThan(0.1f * losses[0]), string.Join(", ", losses));
    }

    [Test]
    public void ModulesAreTargetedAsPeftDoes()
    {
        var ckpt = Checkpoint(blocks: 1, hidden: 64, inter: 96);
        List<string> Layers(params string[] extra)
        {
            var output = PathOf($"t{Guid.NewGuid():N}.safetensors");
            var run = Init([ckpt, "-o", output, .. Common, .. extra]);
            Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
            return AdapterFile.Load(output).Layers.Select(l => l.Name).ToList();
        }
        Assert.That(Layers("--target-modules", "q_proj,v_proj"), Is.EqualTo(new[] { "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj" }));
        Assert.That(Layers("--target-modules", "all-linear"), Has.Count.EqualTo(7));
        Assert.That(Layers("--exclude-modules", "down_proj", "--exclude-modules", "mlp.up_proj"), Has.Count.EqualTo(5));
        Assert.That(Layers("--target-modules", "re:.*layers\\.0\\.mlp\\.(gate|up)_proj"), Is.EqualTo(new[] { "model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj" }));
        Assert.That(Layers("--target-modules", "lm_head,o_proj"), Is.EqualTo(new[] { "lm_head", "model.layers.0.self_attn.o_proj" }),
            "naming a head adapts it (checkpoint order: the index lists tensors by name)");
    }

    [Test]
    public void TargetingErrorsAreOneLine()
    {
        var ckpt = Checkpoint(blocks: 1, hidden: 64, inter: 96);
        var output = PathOf("a.safetensors");
        var none = Init([ckpt, "-o", output, .. Common, "--target-modules", "proj"]);
        Assert.That(none.ExitCode, Is.EqualTo(1));
        Assert.That(none.Err, Does.Contain("no weight").And.Contain("--target-modules"));
        var regex = Init([ckpt, "-o", output, .. Common, "--target-modules", "re:("]);
        Assert.That(regex.ExitCode, Is.EqualTo(1));
        Assert.That(regex.Err.Trim().Split('\n'), Has.Length.EqualTo(1));
        var mixed = Init([ckpt, "-o", output, .. Common, "--target-modules", "all-linear,q_proj"]);
        Assert.That(mixed.ExitCode, Is.EqualTo(1));
        Assert.That(mixed.Err, Does.Contain("all-linear"));
        Assert.That(File.Exists(output), Is.False);
    }

    [Test]
    public void MoSaraAdaptersLoadWithTheirExperts()
    {
        var ckpt = Checkpoint(blocks: 1, hidden: 64, inter: 96);
        var output = PathOf("mo.safetensors");
        var run = Init([ckpt, "-o", output, .. Common, "--method", "mo-sara", "--experts", "3"]);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var adapter = AdapterFile.Load(output);
        Assert.That((adapter.Metadata.Method, adapter.Metadata.Experts), Is.EqualTo((AdapterMethod.MoSara, 3)));
        foreach (var l in adapter.Layers)
        {
            Assert.That(l.Tensors["Lambda"].Data.All(x => x == 0) && l.Tensors["bg"].Data.All(x => x == 0), Is.True);
            var router = new MoSaraOptions();
            Assert.That(l.Tensors["Wg"].Data, Is.EqualTo(SeededGaussian.Normal(3L * l.K, router.RouterInitStd, router.RouterSeed)),
                "MoSaraLinear's default router initialisation");
        }
    }

    [Test]
    public void ResumingAfterAnInterruptionGivesTheBitsOfOneRun()
    {
        var ckpt = Checkpoint();
        var single = PathOf("single.safetensors");
        Assert.That(Init([ckpt, "-o", single, .. Common]).ExitCode, Is.EqualTo(0));

        var output = PathOf("resumed.safetensors");
        Assert.Throws<OperationCanceledException>(() => RunInProcess(ckpt, output, stopAfter: 3));
        Assert.That(File.Exists(output), Is.False, "no adapter after an interruption");
        Assert.That(Directory.GetFiles(Dir, "*" + AtomicFile.TempSuffix), Is.Empty);
        Assert.That(Directory.GetFiles(InitRunner.WorkFolder(output), "layer-*.safetensors"), Has.Length.EqualTo(3));

        var again = Init([ckpt, "-o", output, .. Common]);
        Assert.That(again.ExitCode, Is.EqualTo(1), "an interrupted run's folder is not discarded silently");
        Assert.That(again.Err, Does.Contain("--resume"));

        var resumed = Init([ckpt, "-o", output, .. Common, "--resume"]);
        Assert.That(resumed.ExitCode, Is.EqualTo(0), resumed.Err);
        Assert.That(resumed.Out, Does.Contain("resuming: 3 of 14 layers already done"));
        Assert.That(resumed.Out, Does.Contain("(11 computed, 3 resumed)"));
        Assert.That(File.ReadAllBytes(output), Is.EqualTo(File.ReadAllBytes(single)));
    }

    [Test]
    public void AnInterruptionWhileWritingTheAdapterLeavesNoFile()
    {
        var ckpt = Checkpoint(blocks: 1, hidden: 64, inter: 96);
        var single = PathOf("single.safetensors");
        Assert.That(Init([ckpt, "-o", single, .. Common]).ExitCode, Is.EqualTo(0));
        var output = PathOf("late.safetensors");
        Assert.Throws<OperationCanceledException>(() => RunInProcess(ckpt, output, stopAfter: 7));   // all 7 done: stops in the assembly
        Assert.That(File.Exists(output), Is.False);
        Assert.That(Directory.GetFiles(Dir, "*" + AtomicFile.TempSuffix, SearchOption.AllDirectories), Is.Empty, "the partial file was removed");
        var resumed = Init([ckpt, "-o", output, .. Common, "--resume"]);
        Assert.That(resumed.Out, Does.Contain("(0 computed, 7 resumed)"));
        Assert.That(File.ReadAllBytes(output), Is.EqualTo(File.ReadAllBytes(single)));
    }

    [Test]
    public void PartsCombineToTheBitsOfOneRun()
    {
        var ckpt = Checkpoint();
        var single = PathOf("single.safetensors");
        Assert.That(Init([ckpt, "-o", single, .. Common]).ExitCode, Is.EqualTo(0));
        var parts = Enumerable.Range(1, 3).Select(i => PathOf($"part{i}.safetensors")).ToArray();
        var owned = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var run = Init([ckpt, "-o", parts[i], .. Common, "--part", $"{i + 1}/3"]);
            Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
            var layers = AdapterFile.Load(parts[i]).Layers.Select(l => l.Name).ToList();   // a part is a valid adapter
            Assert.That(layers, Is.Not.Empty);
            owned.AddRange(layers);
        }
        Assert.That(owned, Is.Unique.And.Count.EqualTo(14));

        var combined = PathOf("combined.safetensors");
        var join = Init(["--combine", parts[2], parts[0], parts[1], "-o", combined]);
        Assert.That(join.ExitCode, Is.EqualTo(0), join.Err);
        Assert.That(join.Out, Does.Contain("combined 3 parts: 14 layers"));
        Assert.That(File.ReadAllBytes(combined), Is.EqualTo(File.ReadAllBytes(single)), "bit for bit");
        Assert.That(RankPlan.FromJson(File.ReadAllText(PathOf("combined.plan.json"))).Layers.Select(l => l.Layer),
            Is.EqualTo(AdapterFile.Load(single).Layers.Select(l => l.Name)));

        var missing = Init(["--combine", parts[0], parts[2], "-o", PathOf("x.safetensors")]);
        Assert.That((missing.ExitCode, missing.Err.Contains("part 2 of 3 missing")), Is.EqualTo((1, true)), missing.Err);
        var twice = Init(["--combine", parts[0], parts[0], parts[1], parts[2], "-o", PathOf("x.safetensors")]);
        Assert.That((twice.ExitCode, twice.Err.Contains("given twice")), Is.EqualTo((1, true)), twice.Err);
        var other = PathOf("other1.safetensors");
        Assert.That(Init([ckpt, "-o", other, .. Common, "--tau", "0.3", "--part", "1/3"]).ExitCode, Is.EqualTo(0));
        var mixed = Init(["--combine", other, parts[1], parts[2], "-o", PathOf("x.safetensors")]);
        Assert.That((mixed.ExitCode, mixed.Err.Contains("other settings")), Is.EqualTo((1, true)), mixed.Err);
        var notPart = Init(["--combine", single, "-o", PathOf("x.safetensors")]);
        Assert.That((notPart.ExitCode, notPart.Err.Contains("not a part")), Is.EqualTo((1, true)), notPart.Err);
        Assert.That(File.Exists(PathOf("x.safetensors")), Is.False);
    }

    [Test]
    public void SeveralDevicesShareTheLayersAndGiveTheBitsOfOne()
    {
        var ckpt = Checkpoint(blocks: 2, hidden: 48, inter: 80);
        var one = PathOf("one.safetensors");
        var two = PathOf("two.safetensors");
        var a = Init([ckpt, "-o", one, "--device", "emu", "--max-rank", "8"]);
        Assert.That(a.ExitCode, Is.EqualTo(0), a.Err);
        var b = Init([ckpt, "-o", two, "--device", "emu:0,emu:1", "--max-rank", "8"]);
        Assert.That(b.ExitCode, Is.EqualTo(0), b.Err);
        Assert.That(b.Out, Does.Contain("on emu (").And.Contain(", emu ("), "both devices are listed");
        var lines = b.Out.Split('\n').Where(l => l.StartsWith('[')).ToList();
        Assert.That(lines, Has.Count.EqualTo(14));
        Assert.That(lines.Count(l => l.Contains("1/4 of a batch")), Is.EqualTo(8), "q/k/v/o of each block run as one batched SVD");
        Assert.That(lines.Count(l => l.Contains("1/2 of a batch")), Is.EqualTo(4), "gate/up too");
        Assert.That(File.ReadAllBytes(two), Is.EqualTo(File.ReadAllBytes(one)));
        var bad = Init([ckpt, "-o", PathOf("x.safetensors"), "--device", "emu:0,emu:0"]);
        Assert.That((bad.ExitCode, bad.Err.Contains("appears twice")), Is.EqualTo((1, true)), bad.Err);
    }

    [Test]
    public void AKilledProcessLeavesNoAdapterAndResumes()
    {
        var ckpt = Checkpoint(blocks: 6, hidden: 256, inter: 512);
        var single = PathOf("single.safetensors");
        Assert.That(Init([ckpt, "-o", single, .. Common]).ExitCode, Is.EqualTo(0));
        var output = PathOf("killed.safetensors");
        using (var process = StartSara([ckpt, "-o", output, .. Common], Hold()))
        {
            WaitForLayerLine(process);   // held after its first layer (SARA_INIT_HOLD_FILE): killed mid-run, not after it
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        Assert.That(File.Exists(output), Is.False, "SIGKILL mid-run: no adapter file");
        Assert.That(Directory.GetFiles(Dir, "*" + AtomicFile.TempSuffix), Is.Empty);
        var done = Directory.GetFiles(InitRunner.WorkFolder(output), "layer-*.safetensors").Length;
        Assert.That(done, Is.InRange(1, 41));
        var resumed = Init([ckpt, "-o", output, .. Common, "--resume"]);
        Assert.That(resumed.ExitCode, Is.EqualTo(0), resumed.Err);
        Assert.That(File.ReadAllBytes(output), Is.EqualTo(File.ReadAllBytes(single)));
    }

    [Test]
    public void CtrlCStopsAfterTheLayerInProgress()
    {
        var ckpt = Checkpoint(blocks: 6, hidden: 256, inter: 512);
        var output = PathOf("stopped.safetensors");
        using var process = StartSara([ckpt, "-o", output, .. Common], Hold());
        WaitForLayerLine(process);   // held after its first layer until the interrupt cancels the run: no race with its end
        using (var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            kill.WaitForExit();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.EqualTo(130), stderr);
        Assert.That(stderr, Does.Contain("interrupted").And.Contain("--resume"));
        Assert.That(File.Exists(output), Is.False);
        Assert.That(Directory.GetFiles(InitRunner.WorkFolder(output), "layer-*.safetensors"), Is.Not.Empty);
    }

    /// <summary>InitRunner in-process with the CLI's settings, cancelled once <paramref name="stopAfter"/> layers are done.</summary>
    private void RunInProcess(string ckpt, string output, int stopAfter)
    {
        var request = new InitRequest(ckpt, output, new RankOptions(KMax: 8), AdapterMethod.Sara, 0, WeightFilter.Parse(null, null),
            ModuleTargets.Parse(null, null), null, false, Path.ChangeExtension(output, null) + ".plan.json");
        using var source = WeightSource.Open(ckpt, request.Filter);
        var (selected, _) = InitRunner.Select(source, request.Targets);
        using var backend = new CpuBackend();
        using var cancel = new CancellationTokenSource();
        InitRunner.Run(request, selected, [backend], _ => { }, d =>
        {
            if (d.Done == stopAfter) cancel.Cancel();
        }, cancel.Token);
    }

    /// <summary>A file whose existence holds `sara init` after each layer line (its SARA_INIT_HOLD_FILE test seam).</summary>
    private string Hold()
    {
        var hold = PathOf("hold");
        File.WriteAllText(hold, "");
        return hold;
    }

    /// <summary>
    /// `dotnet sara.dll init ...` with SIGINT at its default disposition, as a terminal's Ctrl-C finds it: a test run
    /// started in the background by a non-interactive shell inherits SIGINT ignored, which .NET then keeps ignoring
    /// (perl, part of every Debian system, resets it before the exec).
    /// </summary>
    private static Process StartSara(string[] initArgs, string? holdFile = null)
    {
        var info = new ProcessStartInfo("perl")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (holdFile is not null) info.Environment["SARA_INIT_HOLD_FILE"] = holdFile;
        foreach (var a in new[] { "-e", "$SIG{INT} = 'DEFAULT'; exec { $ARGV[0] } @ARGV or die \"exec: $!\\n\";", "dotnet" }) info.ArgumentList.Add(a);
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "sara.dll"));
        info.ArgumentList.Add("init");
        foreach (var a in initArgs) info.ArgumentList.Add(a);
        return Process.Start(info)!;
    }

    private static void WaitForLayerLine(Process process)
    {
        var deadline = Stopwatch.StartNew();
        while (process.StandardOutput.ReadLine() is { } line)
        {
            if (line.StartsWith("[1/", StringComparison.Ordinal)) return;
            if (deadline.Elapsed > TimeSpan.FromMinutes(2)) break;
        }
        Assert.Fail($"sara init printed no layer line (exit {(process.HasExited ? process.ExitCode : -1)}): {process.StandardError.ReadToEnd()}");
    }
}
