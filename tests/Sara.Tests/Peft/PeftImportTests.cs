// `sara import-peft`: a PEFT LoRA (patterns, rslora) becomes a SARA adapter with the same update, A and B orthonormal;
// exporting that adapter again gives the original update; a rank-deficient LoRA keeps its true rank; bad folders fail
// with one line and write nothing.
using System.Globalization;
using System.Text.Json;
using Sara.Native.IO;
using Sara.Tests.Cli;
using Sara.Tests.Support;
using Rule = Sara.Tests.Peft.PeftReference.Rule;

namespace Sara.Tests.Peft;

public sealed class PeftImportTests : CliTestBase
{
    internal sealed record LoraModule(string Module, int Out, int In, int R, float[] A, float[] B);

    /// <summary>Writes a PEFT LoRA folder as PEFT's save_pretrained does: the config JSON as given, keys base_model.model.&lt;module&gt;.lora_X.weight.</summary>
    internal static void WriteFolder(string folder, string configJson, IEnumerable<LoraModule> modules, SafetensorsDType dtype = SafetensorsDType.F32)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "adapter_config.json"), configJson);
        var w = new SafetensorsWriter();
        w.Metadata["format"] = "pt";
        foreach (var m in modules)
        {
            w.Add($"base_model.model.{m.Module}.lora_A.weight", dtype, [m.R, m.In], m.A);
            w.Add($"base_model.model.{m.Module}.lora_B.weight", dtype, [m.Out, m.R], m.B);
        }
        w.Save(Path.Combine(folder, "adapter_model.safetensors"));
    }

    internal static string Config(int r, double alpha, bool rslora = false, string rankPattern = "{}", string alphaPattern = "{}",
        string peftType = "LORA", string extra = "") =>
        string.Create(CultureInfo.InvariantCulture, $$"""
        {
          "alpha_pattern": {{alphaPattern}},
          "base_model_name_or_path": "test/llama-like",
          "bias": "none",
          "fan_in_fan_out": false,
          "lora_alpha": {{alpha}},
          "lora_dropout": 0.05,{{extra}}
          "peft_type": "{{peftType}}",
          "r": {{r}},
          "rank_pattern": {{rankPattern}},
          "target_modules": ["q_proj", "v_proj", "down_proj"],
          "task_type": "CAUSAL_LM",
          "use_rslora": {{(rslora ? "true" : "false")}}
        }
        """);

    /// <summary>Two Llama-like blocks: q_proj, v_proj (32 x 32) and down_proj (32 x 48), ranks from the patterns below.</summary>
    private static List<LoraModule> LlamaLike(Rand rand, Func<string, int> rank)
    {
        var list = new List<LoraModule>();
        for (var i = 0; i < 2; i++)
            foreach (var (p, o, n) in new[] { ("self_attn.q_proj", 32, 32), ("self_attn.v_proj", 32, 32), ("mlp.down_proj", 32, 48) })
            {
                var module = $"model.layers.{i}.{p}";
                var r = rank(module);
                list.Add(new LoraModule(module, o, n, r, rand.Uniform(r * n, -1 / Math.Sqrt(n), 1 / Math.Sqrt(n)), rand.Normal(o * r, 0.1)));
            }
        return list;
    }

    [Test]
    public void ImportKeepsTheUpdateAndExportGivesItBack([Values(false, true)] bool rslora)
    {
        var rand = new Rand();
        // Global r = 8, alpha = 16; down_proj gets r = 4 and layer 1's q_proj r = 12 from rank_pattern, v_proj alpha 32.
        const string rankPattern = """{"down_proj": 4, "layers\\.1\\.self_attn\\.q_proj": 12}""";
        const string alphaPattern = """{"v_proj": 32}""";
        var modules = LlamaLike(rand, m => m.EndsWith("down_proj", StringComparison.Ordinal) ? 4 : m == "model.layers.1.self_attn.q_proj" ? 12 : 8);
        WriteFolder(PathOf("lora"), Config(8, 16, rslora, rankPattern, alphaPattern), modules);
        var original = PeftReference.Load(PathOf("lora"));

        var run = Sara("import-peft", PathOf("lora"), "-o", PathOf("sara.safetensors"));
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Does.Contain("imported 6 of 6 modules"));
        var adapter = AdapterFile.Load(PathOf("sara.safetensors"));
        Assert.That(adapter.Metadata.Method, Is.EqualTo(AdapterMethod.Sara));
        Assert.That(adapter.Layers.Select(l => l.Name), Is.EqualTo(modules.Select(m => m.Module)), "layer names are the module names");
        foreach (var l in adapter.Layers)
        {
            var m = modules.Single(x => x.Module == l.Name);
            Assert.That((l.M, l.N, l.K), Is.EqualTo((m.Out, m.In, m.R)), $"{l.Name}: a random LoRA has full rank r");
            var want = original.Update(l.Name, Rule.Current);
            var sara = SaraUpdate(l, adapter.Metadata.Scale);
            Oracle.AssertClose(Array.ConvertAll(sara, v => (float)v), want, 1e-5, $"{l.Name}: s A diag(lambda) B vs scaling lora_B lora_A");
            AssertOrthonormal(l.Tensors["A"].Data, l.M, l.K, columns: true, $"{l.Name}.A");
            AssertOrthonormal(l.Tensors["B"].Data, l.K, l.N, columns: false, $"{l.Name}.B");
            var lambda = l.Tensors["lambda"].Data;
            Assert.That(lambda, Is.Ordered.Descending, $"{l.Name}: lambda = singular values");
            Assert.That(lambda[^1], Is.GreaterThan(0f));
        }

        Assert.That(Sara("export", PathOf("sara.safetensors"), "-o", PathOf("back")).ExitCode, Is.EqualTo(0));
        var back = PeftReference.Load(PathOf("back"));
        foreach (var m in modules)
            foreach (var rule in new[] { Rule.Current, Rule.Legacy })
                Oracle.AssertClose(Array.ConvertAll(back.Update(m.Module, rule), v => (float)v), original.Update(m.Module, Rule.Current), 1e-5,
                    $"{m.Module}: import then export ({rule} rule) vs the original LoRA update");
    }

    [Test]
    public void RankDeficientLoraImportsWithItsTrueRank()
    {
        // lora_B = B1 C with B1 (out x 3) and C (3 x r) of small dyadic numbers, so every stored value is exact and
        // scaling lora_B lora_A has rank 3 exactly; a second module repeats one row of lora_A (rank r - 1); a third is zero.
        var rand = new Rand();
        const int o = 24, n = 20, r = 8, trueRank = 3;
        float Dyadic() => rand.Int(-64, 65) / 64f;
        var b1 = Enumerable.Range(0, o * trueRank).Select(_ => Dyadic()).ToArray();
        var cm = Enumerable.Range(0, trueRank * r).Select(_ => (float)rand.Int(-3, 4)).ToArray();
        var b = new float[o * r];
        for (var i = 0; i < o; i++)
            for (var j = 0; j < r; j++)
                for (var p = 0; p < trueRank; p++) b[i * r + j] += b1[i * trueRank + p] * cm[p * r + j];
        var low = new LoraModule("model.layers.0.mlp.up_proj", o, n, r, rand.Normal(r * n), b);
        var repeated = rand.Normal(r * n);
        Array.Copy(repeated, 0, repeated, n, n);
        var dup = new LoraModule("model.layers.0.mlp.gate_proj", o, n, r, repeated, rand.Normal(o * r));
        var zero = new LoraModule("model.layers.0.mlp.down_proj", o, n, r, rand.Normal(r * n), new float[o * r]);
        WriteFolder(PathOf("lora"), Config(r, 16), [low, dup, zero]);

        var run = Sara("import-peft", PathOf("lora"), "-o", PathOf("sara.safetensors"));
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Does.Contain("imported 2 of 3 modules").And.Contain("2 with an effective rank below r").And.Contain("1 with a zero update left out"));
        Assert.That(Row(run.Out, low.Module)[4], Is.EqualTo("3"), "effective rank column");
        Assert.That(Row(run.Out, dup.Module)[4], Is.EqualTo((r - 1).ToString(CultureInfo.InvariantCulture)));
        Assert.That(Row(run.Out, zero.Module)[4], Is.EqualTo("0"));
        var adapter = AdapterFile.Load(PathOf("sara.safetensors"));
        Assert.That(adapter.Layers.Select(l => (l.Name, l.K)), Is.EqualTo(new[] { (low.Module, trueRank), (dup.Module, r - 1) }));
        var original = PeftReference.Load(PathOf("lora"));
        foreach (var l in adapter.Layers)
            Oracle.AssertClose(Array.ConvertAll(SaraUpdate(l, adapter.Metadata.Scale), v => (float)v), original.Update(l.Name, Rule.Current), 1e-5, l.Name);
    }

    [Test]
    public void HalfPrecisionFactorsImport([Values(SafetensorsDType.F16, SafetensorsDType.BF16)] SafetensorsDType dtype)
    {
        var rand = new Rand();
        var modules = LlamaLike(rand, _ => 4);
        WriteFolder(PathOf("lora"), Config(4, 8), modules, dtype);
        Assert.That(Sara("import-peft", PathOf("lora"), "-o", PathOf("sara.safetensors")).ExitCode, Is.EqualTo(0));
        var original = PeftReference.Load(PathOf("lora")); // reads the same 16-bit values, widened exactly
        var adapter = AdapterFile.Load(PathOf("sara.safetensors"));
        foreach (var l in adapter.Layers)
            Oracle.AssertClose(Array.ConvertAll(SaraUpdate(l, adapter.Metadata.Scale), v => (float)v), original.Update(l.Name, Rule.Current), 1e-5, l.Name);
    }

    private static double[] SaraUpdate(AdapterLayer l, double s) =>
        MergeCommandTests.Oracle(new float[l.M * l.N], l, s);

    private static void AssertOrthonormal(float[] x, int rows, int cols, bool columns, string what)
    {
        var (count, len) = columns ? (cols, rows) : (rows, cols);
        double worst = 0;
        for (var i = 0; i < count; i++)
            for (var j = 0; j < count; j++)
            {
                double dot = 0;
                for (var t = 0; t < len; t++)
                    dot += columns ? (double)x[t * cols + i] * x[t * cols + j] : (double)x[i * cols + t] * x[j * cols + t];
                worst = Math.Max(worst, Math.Abs(dot - (i == j ? 1 : 0)));
            }
        Assert.That(worst, Is.Not.NaN.And.LessThan(1e-5), $"{what}: largest |Q^T Q - I|");
    }

    // ---- bad inputs: one line on stderr, exit code 1, no adapter written ----

    private void AssertRefused(string mentions, string? folder = null)
    {
        var output = PathOf("out.safetensors");
        var run = Sara("import-peft", folder ?? PathOf("lora"), "-o", output);
        Assert.That(run.ExitCode, Is.EqualTo(1), run.Out);
        var lines = run.Err.TrimEnd('\r', '\n').Split('\n');
        Assert.That(lines, Has.Length.EqualTo(1), run.Err);
        Assert.That(run.Err, Does.StartWith("sara import-peft: error: ").And.Contain(mentions));
        Assert.That(run.Err, Does.Not.Contain("   at "));
        Assert.That(File.Exists(output), Is.False, "no adapter is written");
    }

    private List<LoraModule> Good() => LlamaLike(new Rand(), _ => 4);

    [Test]
    public void MissingFolder() => AssertRefused("is not a folder", PathOf("nothere"));

    [Test]
    public void MissingConfig()
    {
        WriteFolder(PathOf("lora"), "{}", Good());
        File.Delete(Path.Combine(PathOf("lora"), "adapter_config.json"));
        AssertRefused("has no adapter_config.json");
    }

    [Test]
    public void MissingWeights()
    {
        WriteFolder(PathOf("lora"), Config(4, 8), Good());
        File.Delete(Path.Combine(PathOf("lora"), "adapter_model.safetensors"));
        File.WriteAllBytes(Path.Combine(PathOf("lora"), "adapter_model.bin"), [0x80, 0x02]);
        AssertRefused("adapter_model.bin");
    }

    [TestCase("IA3")]
    [TestCase("LOHA")]
    public void UnknownPeftType(string type)
    {
        WriteFolder(PathOf("lora"), Config(4, 8, peftType: type), Good());
        AssertRefused($"peft_type is '{type}'");
    }

    [Test]
    public void ConfigThatIsNotJson()
    {
        WriteFolder(PathOf("lora"), "{\"peft_type\": \"LORA\", ", Good());
        AssertRefused("not valid JSON");
    }

    [Test]
    public void RanksOfAAndBDiffer()
    {
        var rand = new Rand();
        WriteFolder(PathOf("lora"), Config(4, 8), [new LoraModule("model.layers.0.self_attn.q_proj", 16, 16, 4, rand.Normal(4 * 16), rand.Normal(16 * 4))]);
        // Rewrite with lora_B [16, 5]: the writer checks shapes against data, so build the file directly.
        var w = new SafetensorsWriter();
        w.Add("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", [4, 16], rand.Normal(64));
        w.Add("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", [16, 5], rand.Normal(80));
        w.Save(Path.Combine(PathOf("lora"), "adapter_model.safetensors"));
        AssertRefused("shape mismatch: lora_A [4, 16] is [r, in] and lora_B [16, 5]");
    }

    [Test]
    public void RankDiffersFromTheConfig()
    {
        WriteFolder(PathOf("lora"), Config(8, 8), Good());
        AssertRefused("shape mismatch: the weights have rank 4, the config gives this module r = 8");
    }

    [Test]
    public void RankPatternThatMatchesNothing()
    {
        WriteFolder(PathOf("lora"), Config(4, 8, rankPattern: """{"o_proj": 4}"""), Good());
        AssertRefused("rank_pattern key 'o_proj' matches no module");
    }

    [Test]
    public void AlphaPatternThatMatchesNothing()
    {
        WriteFolder(PathOf("lora"), Config(4, 8, alphaPattern: """{"layers\\.7\\..*": 2}"""), Good());
        AssertRefused("alpha_pattern key 'layers\\.7\\..*' matches no module");
    }

    [Test]
    public void PatternThatIsNoRegex()
    {
        WriteFolder(PathOf("lora"), Config(4, 8, rankPattern: """{"q_proj(": 4}"""), Good());
        AssertRefused("is not a regular expression");
    }

    [Test]
    public void DoraIsRefused()
    {
        WriteFolder(PathOf("lora"), Config(4, 8, extra: "\n  \"use_dora\": true,"), Good());
        AssertRefused("use_dora is true");
    }

    [Test]
    public void KeyThatIsNoLoraWeight()
    {
        var rand = new Rand();
        var m = Good()[0];
        WriteFolder(PathOf("lora"), Config(4, 8), []);
        var w = new SafetensorsWriter();
        w.Add($"base_model.model.{m.Module}.lora_A.weight", [m.R, m.In], m.A);
        w.Add($"base_model.model.{m.Module}.lora_B.weight", [m.Out, m.R], m.B);
        w.Add($"base_model.model.{m.Module}.lora_magnitude_vector", [m.Out], rand.Normal(m.Out));
        w.Save(Path.Combine(PathOf("lora"), "adapter_model.safetensors"));
        AssertRefused("lora_magnitude_vector': not a LoRA weight");
    }

    [Test]
    public void MissingPartner()
    {
        var m = Good()[0];
        WriteFolder(PathOf("lora"), Config(4, 8), []);
        new SafetensorsWriter().Add($"base_model.model.{m.Module}.lora_A.weight", [m.R, m.In], m.A).Save(Path.Combine(PathOf("lora"), "adapter_model.safetensors"));
        AssertRefused("lora_B partner is missing");
    }

    [Test]
    public void NonFiniteValue()
    {
        var modules = Good();
        modules[1].B[5] = float.NaN;
        WriteFolder(PathOf("lora"), Config(4, 8), modules);
        AssertRefused("a non-finite value (NaN) at element 5");
    }

    [Test]
    public void WrongPrefix()
    {
        WriteFolder(PathOf("lora"), Config(4, 8), Good());
        var run = Sara("import-peft", PathOf("lora"), "-o", PathOf("out.safetensors"), "--prefix", "base_model.model.transformer.");
        Assert.That(run.ExitCode, Is.EqualTo(1));
        Assert.That(run.Err, Does.Contain("does not start with the prefix 'base_model.model.transformer.'"));
    }

    [Test]
    public void AllZeroUpdateIsRefused()
    {
        var modules = Good().Select(m => m with { B = new float[m.B.Length] }).ToList();
        WriteFolder(PathOf("lora"), Config(4, 8), modules);
        AssertRefused("every module's update scaling * lora_B lora_A is zero");
    }

    [Test]
    public void ConfigFieldsAreReadAsPeftWritesThem()
    {
        // A config saved by PEFT carries many more fields (auto_mapping, loftq_config, ...): they are ignored.
        WriteFolder(PathOf("lora"), Config(4, 8, extra: """
            "auto_mapping": {"base_model_class": "LlamaForCausalLM", "parent_library": "transformers"},
              "loftq_config": {}, "megatron_config": null, "layer_replication": null, "init_lora_weights": true,
            """), Good());
        var run = Sara("import-peft", PathOf("lora"), "-o", PathOf("out.safetensors"));
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(PathOf("lora"), "adapter_config.json")));
        Assert.That(doc.RootElement.GetProperty("auto_mapping").ValueKind, Is.EqualTo(JsonValueKind.Object), "the test wrote the extra fields");
    }
}
