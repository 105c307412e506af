// `sara export --format peft`: the written LoRA, read and run by the tests' own PEFT reference (PeftReference), gives the
// SARA layer's outputs; keys and config fields are exactly PEFT's; every pattern key picks out its module under both PEFT rules.
using System.Text.Json;
using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.IO;
using Sara.Native.Layers;
using Sara.Tests.Cli;
using Sara.Tests.Support;
using Rule = Sara.Tests.Peft.PeftReference.Rule;

namespace Sara.Tests.Peft;

public sealed class PeftExportTests : CliTestBase
{
    /// <summary>all-MiniLM-L6-v2's linear layers (BertModel names): 6 blocks of q, k, v, attention output, intermediate, output.</summary>
    internal static List<(string Name, int M, int N)> MiniLmLayers()
    {
        var list = new List<(string, int, int)>();
        for (var i = 0; i < 6; i++)
        {
            foreach (var p in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
                list.Add(($"encoder.layer.{i}.{p}", 384, 384));
            list.Add(($"encoder.layer.{i}.intermediate.dense", 1536, 384));
            list.Add(($"encoder.layer.{i}.output.dense", 384, 1536));
        }
        return list;
    }

    /// <summary>A SARA adapter with random orthonormal A, B, random lambda and scale, ranks drawn in [kMin, kMax].</summary>
    internal static AdapterFile RandomSara(Rand rand, IEnumerable<(string Name, int M, int N)> layers, int kMin, int kMax)
    {
        var adapter = new AdapterFile(AdapterMetadata.Create(AdapterMethod.Sara, "SumFraction", 0.2, 0.5 + rand.Uniform(1, 0, 1)[0]));
        foreach (var (name, m, n) in layers)
        {
            var k = Math.Min(rand.Int(kMin, kMax + 1), Math.Min(m, n));
            var a = Orthonormal.Columns(rand, m, k).Select(v => (float)v).ToArray();
            var bt = Orthonormal.Columns(rand, n, k);
            var b = new float[k * n];
            for (var i = 0; i < k; i++)
                for (var j = 0; j < n; j++) b[i * n + j] = (float)bt[j * k + i];
            adapter.AddLayer(AdapterLayer.Sara(name, m, n, rand.Normal(k), a, b));
        }
        return adapter;
    }

    [Test]
    public void MiniLmShapedExportReproducesTheSaraLayerOutputsThroughPeftsFormula([Values(false, true)] bool portable)
    {
        var rand = new Rand();
        var adapter = RandomSara(rand, MiniLmLayers(), 4, 64);
        var adapterPath = PathOf("minilm_sara.safetensors");
        adapter.Save(adapterPath);
        var w0 = adapter.Layers.ToDictionary(l => l.Name, l => rand.Normal((long)l.M * l.N, 0.05));
        AssertExportReproducesSara(adapterPath, w0, portable, PathOf("peft"), rand);
    }

    /// <summary>
    /// Exports <paramref name="adapterPath"/> with the CLI and checks the folder: exact PEFT key names, shapes and dtype;
    /// adapter_config.json's fields; r of every module under the readers the mode is for (PEFT's current and legacy pattern
    /// rules by default, llama.cpp's global alpha with --portable) equal to its k; and for each layer the SARA layer's
    /// output (SaraLinear on the CPU backend, W0 from <paramref name="w0"/>) against W0 x + the reference LoRA forward.
    /// </summary>
    internal static void AssertExportReproducesSara(string adapterPath, IReadOnlyDictionary<string, float[]> w0, bool portable, string folder, Rand rand)
    {
        var args = new List<string> { "export", adapterPath, "--format", "peft", "-o", folder };
        if (portable) args.Add("--portable");
        var run = Sara(args.ToArray());
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var adapter = AdapterFile.Load(adapterPath);
        var peft = PeftReference.Load(folder);

        // Keys exactly as PEFT saves them, nothing else; fp32 tensors of shape [r, in] and [out, r].
        var expectedKeys = adapter.Layers.SelectMany(l => new[] { $"base_model.model.{l.Name}.lora_A.weight", $"base_model.model.{l.Name}.lora_B.weight" });
        Assert.That(peft.Keys, Is.EquivalentTo(expectedKeys));
        using (var file = SafetensorsFile.Open(Path.Combine(folder, "adapter_model.safetensors")))
            foreach (var l in adapter.Layers)
            {
                var a = file.GetInfo($"base_model.model.{l.Name}.lora_A.weight");
                var b = file.GetInfo($"base_model.model.{l.Name}.lora_B.weight");
                Assert.That((a.DType, b.DType), Is.EqualTo((SafetensorsDType.F32, SafetensorsDType.F32)));
                Assert.That(a.Shape, Is.EqualTo(new long[] { l.K, l.N }), $"{l.Name}: lora_A is [r, in]");
                Assert.That(b.Shape, Is.EqualTo(new long[] { l.M, l.K }), $"{l.Name}: lora_B is [out, r]");
            }

        var c = peft.Config;
        var mostCommon = adapter.Layers.GroupBy(l => l.K).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
        Assert.That(c.GetProperty("peft_type").GetString(), Is.EqualTo("LORA"));
        Assert.That(c.GetProperty("r").GetInt32(), Is.EqualTo(mostCommon));
        Assert.That(c.GetProperty("lora_alpha").GetDouble(), Is.EqualTo(mostCommon));
        Assert.That(c.GetProperty("use_rslora").GetBoolean(), Is.False);
        Assert.That(c.GetProperty("fan_in_fan_out").GetBoolean(), Is.False);
        Assert.That(c.GetProperty("bias").GetString(), Is.EqualTo("none"));
        Assert.That(c.GetProperty("task_type").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(c.GetProperty("base_model_name_or_path").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(c.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()), Is.EquivalentTo(adapter.Layers.Select(l => l.Name)));
        Assert.That(c.GetProperty("rank_pattern").EnumerateObject().Count(), Is.EqualTo(portable ? 0 : adapter.Layers.Count));
        Assert.That(c.GetProperty("alpha_pattern").EnumerateObject().Count(), Is.EqualTo(portable ? 0 : adapter.Layers.Count));

        using var backend = Devices.Create("cpu");
        // Default: PEFT's two pattern rules, and readers that ignore the patterns and take one scaling from the global
        // r and lora_alpha (vLLM), which the global alpha = r makes 1 as well. Portable: llama.cpp's alpha / tensor rank.
        var rules = portable ? new[] { Rule.LlamaCpp } : new[] { Rule.Current, Rule.Legacy, Rule.GlobalOnly };
        const int tokens = 8;
        double worst = 0;
        foreach (var l in adapter.Layers)
        {
            foreach (var rule in rules)
            {
                if (rule == Rule.GlobalOnly) continue; // the global r is not each module's rank; its scaling is checked below
                var (r, _, rankKey, alphaKey) = peft.Settings(l.Name, rule);
                Assert.That(r, Is.EqualTo(l.K), $"{l.Name}: rank under {rule}");
                if (rule != Rule.LlamaCpp) Assert.That((rankKey, alphaKey), Is.Not.EqualTo(((string?)null, (string?)null)), $"{l.Name}: a pattern key under {rule}");
            }
            var x = rand.Normal(tokens * l.N);
            var xd = Oracle.D(x);
            float[] sara;
            using (var layer = SaraLinear.FromFactors(backend, l.Name, w0[l.Name], l.M, l.N, null, l.Tensors["A"].Data, l.Tensors["B"].Data, l.K,
                       l.Tensors["lambda"].Data, new SaraOptions { Scale = (float)adapter.Metadata.Scale }))
            using (var input = new Variable(backend.FromArray(x, tokens, l.N)))
                sara = layer.Forward(new Tape(), input).Value.ToArray();
            var dense = Oracle.MatMul(xd, tokens, l.N, false, Oracle.D(w0[l.Name]), l.M, l.N, true);
            var saraDelta = SaraForward(l, adapter.Metadata.Scale, xd, tokens);
            foreach (var rule in rules)
            {
                var delta = peft.Forward(l.Name, xd, tokens, rule);
                Oracle.AssertClose(sara, Oracle.Add(dense, delta), 1e-5, $"{l.Name}: SARA layer output vs W0 x + PEFT LoRA ({rule})");
                // The adapter terms alone, both in float64: what is left is the float32 rounding of lora_A.
                var e = Oracle.RelErr(Array.ConvertAll(delta, v => (float)v), saraDelta);
                Assert.That(e, Is.Not.NaN.And.LessThan(1e-6), $"{l.Name}: PEFT term vs s ((x B^T) lambda) A^T ({rule})");
                worst = Math.Max(worst, e);
            }
        }
        TestContext.Out.WriteLine($"{adapter.Layers.Count} layers, {(portable ? "portable" : "default")}: largest relative error of the LoRA term {worst:E2}");
    }

    /// <summary>s ((x B^T) (.) lambda) A^T in float64 (DESIGN 1.2), x tokens x n.</summary>
    private static double[] SaraForward(AdapterLayer l, double s, double[] x, int tokens)
    {
        var h = Oracle.MatMul(x, tokens, l.N, false, Oracle.D(l.Tensors["B"].Data), l.K, l.N, true);
        var z = Oracle.ScaleColumns(h, tokens, l.K, Oracle.D(l.Tensors["lambda"].Data));
        var y = Oracle.MatMul(z, tokens, l.K, false, Oracle.D(l.Tensors["A"].Data), l.M, l.K, true);
        return Array.ConvertAll(y, v => s * v);
    }

    [Test]
    public void AnAdapterShapedLikeSaraInitsExports()
    {
        // What `sara init` writes for a LLaMA checkpoint: layers named by their module (model.layers.N.self_attn.q_proj,
        // ...), tensors stored in bf16, metadata keys of its own beside the adapter's. The export keys are then exactly
        // PEFT's for a LlamaForCausalLM (base_model.model.model.layers.N...).
        var rand = new Rand();
        var layers = new List<(string, int, int)>();
        for (var i = 0; i < 2; i++)
        {
            foreach (var p in new[] { "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj" })
                layers.Add(($"model.layers.{i}.{p}", 48, 48));
            layers.Add(($"model.layers.{i}.mlp.gate_proj", 96, 48));
            layers.Add(($"model.layers.{i}.mlp.up_proj", 96, 48));
            layers.Add(($"model.layers.{i}.mlp.down_proj", 48, 96));
        }
        var plain = PathOf("plain.safetensors");
        RandomSara(rand, layers, 2, 12).Save(plain, SafetensorsDType.BF16);
        var path = PathOf("init_like.safetensors");
        using (var source = SafetensorsFile.Open(plain))
        {
            var writer = new SafetensorsWriter();
            foreach (var (k, v) in source.Metadata) writer.Metadata[k] = v;
            writer.Metadata["init_settings"] = """{"checkpoint": "model.safetensors", "target_modules": "all-linear"}""";
            foreach (var t in source.Tensors) writer.Add(t.Name, t.DType, t.Shape, source.ReadFloats(t.Name));
            writer.Save(path);
        }
        var adapter = AdapterFile.Load(path);
        Assert.That(adapter.Layers.Select(l => l.Name), Is.EqualTo(layers.Select(l => l.Item1)));
        var w0 = adapter.Layers.ToDictionary(l => l.Name, l => rand.Normal((long)l.M * l.N, 0.05));
        AssertExportReproducesSara(path, w0, portable: false, PathOf("peft"), rand);
        Assert.That(PeftReference.Load(PathOf("peft")).Keys, Does.Contain("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"));
    }

    [Test]
    public void EveryPatternKeyPicksOutItsOwnModuleUnderBothPeftRules()
    {
        // Names that defeat short keys: no dot at all, one suffix shared by an encoder and a decoder, layer 1 vs 10 vs 11,
        // an attention output vs a block output, and a ".weight" layer name (PEFT names the module).
        var names = new[]
        {
            "l1", "l2", "encoder.block.0.attn.q", "decoder.block.0.attn.q", "model.layers.1.mlp.down_proj", "model.layers.10.mlp.down_proj",
            "model.layers.11.mlp.down_proj", "encoder.layer.0.attention.output.dense", "encoder.layer.0.output.dense", "head.proj.weight",
        };
        var rand = new Rand();
        var adapter = RandomSara(rand, names.Select(n => (n, 12, 10)), 1, 8);
        var path = PathOf("a.safetensors");
        adapter.Save(path);
        var run = Sara("export", path, "-o", PathOf("peft"));
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var peft = PeftReference.Load(PathOf("peft"));
        var modules = names.Select(n => n.EndsWith(".weight", StringComparison.Ordinal) ? n[..^7] : n).ToList();
        Assert.That(peft.Modules.Keys, Is.EquivalentTo(modules));

        var rankKeys = peft.Config.GetProperty("rank_pattern").EnumerateObject().Select(p => p.Name).ToList();
        Assert.That(peft.Config.GetProperty("alpha_pattern").EnumerateObject().Select(p => p.Name), Is.EqualTo(rankKeys));
        Assert.That(rankKeys, Has.Count.EqualTo(modules.Count));
        foreach (var key in rankKeys)
        {
            var current = modules.Where(m => PeftReference.CurrentRuleMatches(key, m)).ToList();
            var legacy = modules.Where(m => PeftReference.LegacyRuleMatches(key, m)).ToList();
            TestContext.Out.WriteLine($"{key,-40} current rule: {string.Join(", ", current)}; legacy rule: {string.Join(", ", legacy)}");
            Assert.That(current, Has.Count.EqualTo(1), $"key '{key}' under the current rule");
            Assert.That(legacy, Is.EqualTo(current), $"key '{key}' under the legacy rule");
        }
        foreach (var (module, layer) in modules.Zip(adapter.Layers))
            foreach (var rule in new[] { Rule.Current, Rule.Legacy })
            {
                var (r, alpha, _, _) = peft.Settings(module, rule);
                Assert.That((r, alpha), Is.EqualTo((layer.K, (double)layer.K)), $"{module} under {rule}: r = alpha = k (scaling 1)");
            }
    }

    [Test]
    public void PrefixAndBaseModelNameGoWhereTheySay()
    {
        var rand = new Rand();
        var adapter = RandomSara(rand, [("layers.0.self_attn.q_proj", 16, 16), ("layers.0.self_attn.v_proj", 16, 16)], 2, 4);
        var path = PathOf("a.safetensors");
        adapter.Save(path);
        var run = Sara("export", path, "-o", PathOf("peft"), "--prefix", "base_model.model.model.", "--base-model", "meta-llama/Llama-3.2-1B");
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var peft = PeftReference.Load(PathOf("peft"));
        Assert.That(peft.Keys, Is.EquivalentTo(new[]
        {
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
            "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight",
        }));
        Assert.That(peft.Config.GetProperty("base_model_name_or_path").GetString(), Is.EqualTo("meta-llama/Llama-3.2-1B"));
        Assert.That(peft.Config.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()),
            Is.EquivalentTo(new[] { "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj" }));
        foreach (var (module, layer) in peft.Modules.Keys.Zip(adapter.Layers))
            Assert.That(peft.Settings(module, Rule.Current).R, Is.EqualTo(layer.K), module);
    }

    [Test]
    public void NonFiniteOrOverflowingAdaptersAreRefused([Values("nan", "overflow")] string kind)
    {
        var rand = new Rand();
        var adapter = RandomSara(rand, [("l1", 12, 10), ("l2", 10, 12)], 2, 4);
        var layer = adapter.Layers[1];
        if (kind == "nan") layer.Tensors["B"].Data[3] = float.NaN;
        else layer.Tensors["lambda"].Data[0] = 3e38f;
        var path = PathOf("a.safetensors");
        var bad = new AdapterFile(AdapterMetadata.Create(AdapterMethod.Sara, "SumFraction", 0.2, 4.0));
        foreach (var l in adapter.Layers) bad.AddLayer(l);
        bad.Save(path);
        var run = Sara("export", path, "-o", PathOf("peft"));
        Assert.That(run.ExitCode, Is.EqualTo(1));
        Assert.That(run.Err.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(run.Err, Does.Contain(kind == "nan" ? "'l2.B' holds a non-finite value (NaN) at element 3" : "layer 'l2': lora_A = diag(s lambda) B overflows float32"));
        Assert.That(Directory.Exists(PathOf("peft")), Is.False);
    }

    [Test]
    public void MoSaraIsRefusedWithTheReasonAndWritesNothing()
    {
        var rand = new Rand();
        const int m = 12, n = 10, k = 3, e = 2;
        var adapter = new AdapterFile(AdapterMetadata.Create(AdapterMethod.MoSara, "SumFraction", 0.2, 1, e));
        adapter.AddLayer(AdapterLayer.MoSara("l1", m, n, k, rand.Normal(e * k), rand.Normal(e * k), rand.Normal(e), rand.Normal(m * k), rand.Normal(k * n)));
        var path = PathOf("mo.safetensors");
        adapter.Save(path);
        var run = Sara("export", path, "-o", PathOf("peft"));
        Assert.That(run.ExitCode, Is.EqualTo(1));
        Assert.That(run.Err.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(run.Err, Does.Contain("Mo-SARA").And.Contain("depends on each token"));
        Assert.That(Directory.Exists(PathOf("peft")), Is.False);
    }
}
