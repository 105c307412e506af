// A seeded, time-bounded fuzz of `sara analyze` and `sara merge` on mutants of the demo's own files (issue 16, item 10):
// no exception escapes, no internal error (exit 3), no hang, nothing written when a run is refused, and a merge that
// succeeds writes no NaN or infinity that its inputs did not hold. SARA_FUZZ_SEED / _COUNT / _SECONDS override the
// defaults; the seed is printed so a failure can be replayed.
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Onnx;
using Sara.Cli.Demo;
using Sara.Native.IO;
using Sara.Tests.IO;
using Sara.Tests.Support;

namespace Sara.Tests.Cli;

public sealed class FuzzTests : CliTestBase
{
    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : fallback;

    private static readonly TimeSpan PerRunLimit = TimeSpan.FromSeconds(60);

    private string _demo = "";
    private byte[] _base = [], _adapter = [], _moAdapter = [], _onnx = [];

    [OneTimeSetUp]
    public void MakeTheDemoFiles()
    {
        _demo = Path.Combine(Path.GetTempPath(), "sara-fuzz-demo", Guid.NewGuid().ToString("N"));
        // The demo itself writes the files, with a short run: the same layers, names, metadata and dtypes as ./build.sh's.
        DemoRunner.Run(new DemoSettings("cpu", 1, 2, _demo) { TrainCount = 512, TestCount = 256 }, _ => { });
        _base = File.ReadAllBytes(Path.Combine(_demo, "base_model.safetensors"));
        _adapter = File.ReadAllBytes(Path.Combine(_demo, "sara_adapter.safetensors"));
        _moAdapter = File.ReadAllBytes(Path.Combine(_demo, "mosara_adapter.safetensors"));
        _onnx = SmallOnnx();
    }

    [OneTimeTearDown]
    public void RemoveTheDemoFiles()
    {
        try { Directory.Delete(_demo, true); } catch (IOException) { }
    }

    [Test]
    public void MutantsOfTheDemoFilesNeverCrashHangOrWriteOnRejection()
    {
        int seed = Setting("SARA_FUZZ_SEED", 16), count = Setting("SARA_FUZZ_COUNT", 300), seconds = Setting("SARA_FUZZ_SECONDS", 120);
        TestContext.Out.WriteLine($"fuzz seed {seed}, {count} mutants, budget {seconds} s (SARA_FUZZ_SEED / SARA_FUZZ_COUNT / SARA_FUZZ_SECONDS)");
        var rng = new Random(seed);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var outcomes = new Dictionary<string, int>();
        int done = 0;
        for (; done < count; done++)
        {
            if (clock.Elapsed.TotalSeconds > seconds)
            {
                TestContext.Out.WriteLine($"time budget reached after {done} of {count} mutants (the rest were not run)");
                break;
            }
            var folder = Path.Combine(Dir, $"m{done}");
            Directory.CreateDirectory(folder);
            var mutant = MakeMutant(rng, folder, out var what);
            var label = $"mutant {done} (seed {seed}): {what}";
            foreach (var args in mutant.Commands)
            {
                var run = RunBounded(label, args);
                Check(label, args, run, mutant, folder);
                var key = $"{args[0]} exit {run.ExitCode}";
                outcomes[key] = outcomes.GetValueOrDefault(key) + 1;
            }
            Directory.Delete(folder, true);
        }
        TestContext.Out.WriteLine($"{done} mutants in {clock.Elapsed.TotalSeconds:F1} s: " +
                                  string.Join(", ", outcomes.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}: {kv.Value}")));
        Assert.That(outcomes.Keys.Any(k => k.EndsWith("exit 1")), Is.True, "the mutants include rejected files");
        Assert.That(outcomes.Keys.Any(k => k.EndsWith("exit 0")), Is.True, "the mutants include files that still work");
    }

    private sealed record Mutant(List<string[]> Commands, string[] Inputs, string[] Outputs, string? BaseForFiniteness);

    private static CliRun RunBounded(string label, string[] args)
    {
        var task = Task.Run(() => Sara(args));
        if (!task.Wait(PerRunLimit)) Assert.Fail($"{label}: 'sara {string.Join(' ', args)}' did not finish in {PerRunLimit.TotalSeconds} s");
        if (task.IsFaulted) Assert.Fail($"{label}: an exception escaped SaraCli.Run: {task.Exception!.InnerException}");
        return task.Result;
    }

    private static void Check(string label, string[] args, CliRun run, Mutant m, string folder)
    {
        var cmd = $"{label}: 'sara {string.Join(' ', args.Select(Path.GetFileName))}'";
        Assert.That(run.ExitCode, Is.EqualTo(0).Or.EqualTo(1), $"{cmd} -> exit {run.ExitCode}: {run.Err}");
        HostileFiles.AssertNoTerminalControl(run.Out + run.Err);
        var listing = HostileFiles.Listing(folder);
        var outputs = m.Outputs.Where(o => args.Contains(o)).ToArray();
        if (run.ExitCode != 0)
        {
            Assert.That(run.Err.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), cmd);
            Assert.That(listing, Is.EqualTo(m.Inputs.Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal).ToArray()),
                $"{cmd} was refused ({run.Err.Trim()}) but left files behind");
            return;
        }
        Assert.That(listing.Where(n => n.EndsWith(AtomicFile.TempSuffix, StringComparison.Ordinal)), Is.Empty, $"{cmd}: temporary file left");
        foreach (var o in outputs) Assert.That(File.Exists(o), Is.True, $"{cmd} succeeded without writing {o}");
        if (args[0] == "merge")
        {
            using var merged = SafetensorsFile.Open(outputs.Single());
            using var source = SafetensorsFile.Open(m.BaseForFiniteness!);
            foreach (var t in merged.Tensors.Where(t => SafetensorsDTypes.IsReadableAsFloat(t.DType)))
            {
                long had = source.ReadFloats(t.Name).Count(v => !float.IsFinite(v));
                long has = merged.ReadFloats(t.Name).Count(v => !float.IsFinite(v));
                Assert.That(has, Is.Not.NaN.And.LessThanOrEqualTo(had), $"{cmd}: tensor '{t.Name}' gained non-finite values");
            }
        }
        foreach (var o in outputs) File.Delete(o);
    }

    // ---- mutants ----

    private Mutant MakeMutant(Random rng, string folder, out string what)
    {
        string F(string name) => Path.Combine(folder, name);
        int pick = rng.Next(12);
        if (pick == 0)
        {
            // An ONNX model: protobuf bytes flipped, truncated or spliced; analyze only.
            var bytes = MutateBytes(rng, (byte[])_onnx.Clone(), 0, out what);
            File.WriteAllBytes(F("model.onnx"), bytes);
            File.WriteAllBytes(F("model.onnx.data"), ExternalData);
            what = "onnx: " + what;
            return new Mutant([["analyze", F("model.onnx"), "--device", "cpu", "--json", F("plan.json")]],
                [F("model.onnx"), F("model.onnx.data")], [F("plan.json")], null);
        }
        bool mutateBase = pick <= 5;
        var source = mutateBase ? _base : pick == 11 ? _moAdapter : _adapter;
        var mutated = MutateSafetensors(rng, source, out what);
        what = (mutateBase ? "base: " : pick == 11 ? "mo-sara adapter: " : "adapter: ") + what;
        File.WriteAllBytes(F("base.safetensors"), mutateBase ? mutated : _base);
        File.WriteAllBytes(F("adapter.safetensors"), mutateBase ? _adapter : mutated);
        var commands = new List<string[]> { new[] { "merge", F("base.safetensors"), F("adapter.safetensors"), "-o", F("merged.safetensors"), "--device", "cpu" } };
        if (mutateBase) commands.Insert(0, ["analyze", F("base.safetensors"), "--device", "cpu", "--json", F("plan.json")]);
        return new Mutant(commands, [F("base.safetensors"), F("adapter.safetensors")], [F("plan.json"), F("merged.safetensors")], F("base.safetensors"));
    }

    private static byte[] MutateSafetensors(Random rng, byte[] file, out string what)
    {
        ulong headerLength = BitConverter.ToUInt64(file, 0);
        var header = Encoding.UTF8.GetString(file, 8, (int)headerLength);
        var data = file[(8 + (int)headerLength)..];
        switch (rng.Next(9))
        {
            case 0:
            {
                ulong[] lengths = [0, 1, headerLength - 1, headerLength + 1, headerLength + 8, (ulong)file.Length, (ulong)file.Length - 7,
                    100_000_001, ulong.MaxValue, 1UL << 63, (ulong)rng.NextInt64()];
                var v = lengths[rng.Next(lengths.Length)];
                var copy = (byte[])file.Clone();
                BitConverter.GetBytes(v).CopyTo(copy, 0);
                what = $"header length {headerLength} -> {v}";
                return copy;
            }
            case 1:
                what = "JSON text: " + MutateText(rng, ref header);
                return RawSafetensors.Bytes(header, data);
            case 2 or 3 or 4 or 5:
            {
                var root = JsonNode.Parse(header)!.AsObject();
                what = MutateJson(rng, root);
                return RawSafetensors.Bytes(root.ToJsonString(), data);
            }
            case 6:
            {
                int cut = rng.Next(file.Length);
                what = $"truncated at {cut} of {file.Length} bytes";
                return file[..cut];
            }
            default:
            {
                var copy = (byte[])file.Clone();
                what = "data: " + MutateData(rng, copy, 8 + (int)headerLength);
                return copy;
            }
        }
    }

    private static string MutateText(Random rng, ref string text)
    {
        int at = rng.Next(text.Length);
        const string tokens = "{}[],:\"\\ 0-e.";
        switch (rng.Next(5))
        {
            case 0:
                text = text.Remove(at, 1);
                return $"deleted char {at}";
            case 1:
                var c = tokens[rng.Next(tokens.Length)];
                text = text.Insert(at, c.ToString());
                return $"inserted '{c}' at {at}";
            case 2:
                int len = Math.Min(rng.Next(1, 40), text.Length - at);
                text = text.Insert(at, text.Substring(at, len));
                return $"duplicated {len} chars at {at}";
            case 3:
                text = text.Insert(at, "\\ud800");
                return $"lone surrogate escape at {at}";
            default:
                text = text[..at];
                return $"cut the JSON at {at}";
        }
    }

    private static readonly JsonNode?[] OddNumbers =
    [
        0, -1, 1, 3, 7, 2147483647, 2147483648L, 4294967296L, 1L << 53, long.MaxValue, 1.5, -0.0, 1e300, "8", null, true,
    ];

    private static string MutateJson(Random rng, JsonObject root)
    {
        var names = root.Select(kv => kv.Key).Where(k => k != "__metadata__").ToList();
        string name = names[rng.Next(names.Count)];
        var entry = root[name] as JsonObject;
        JsonNode? Odd() => OddNumbers[rng.Next(OddNumbers.Length)]?.DeepClone();
        switch (rng.Next(8))
        {
            case 0 when entry is not null:
            {
                var offsets = entry["data_offsets"]!.AsArray();
                int i = rng.Next(2);
                var v = Odd();
                var was = offsets[i]!.ToJsonString();
                offsets[i] = rng.Next(3) == 0 ? offsets[i]!.GetValue<long>() + rng.Next(-8, 9) : v;
                return $"'{name}' data_offsets[{i}] {was} -> {offsets[i]?.ToJsonString() ?? "null"}";
            }
            case 1 when entry is not null:
            {
                string[] dtypes = ["F16", "BF16", "F64", "I8", "U8", "I64", "BOOL", "F8_E4M3", "f32", "", "F32 ", "F33"];
                var d = dtypes[rng.Next(dtypes.Length)];
                entry["dtype"] = rng.Next(8) == 0 ? 5 : d;
                return $"'{name}' dtype -> {entry["dtype"]!.ToJsonString()}";
            }
            case 2 when entry is not null:
            {
                var shape = entry["shape"]!.AsArray();
                var before = shape.ToJsonString();
                switch (rng.Next(4))
                {
                    case 0 when shape.Count > 0: shape[rng.Next(shape.Count)] = Odd(); break;
                    case 1: shape.Add(rng.Next(3) == 0 ? Odd() : 1); break;
                    case 2 when shape.Count > 0: shape.RemoveAt(rng.Next(shape.Count)); break;
                    default:
                        if (shape.Count >= 2) (shape[0], shape[1]) = (shape[1]!.DeepClone(), shape[0]!.DeepClone());
                        else shape.Add(0);
                        break;
                }
                return $"'{name}' shape {before} -> {shape.ToJsonString()}";
            }
            case 3:
            {
                string[] names2 = ["x\u001b[2J\u001b]0;pwned\u0007", new string('n', 5000), "", "__metadata__", names[0], name + ".weight"];
                var newName = names2[rng.Next(names2.Length)];
                var value = root[name]!.DeepClone();
                root.Remove(name);
                if (!root.ContainsKey(newName)) root[newName] = value;
                return $"renamed '{name}' to '{SafeText.Name(newName)}'";
            }
            case 4 when root["__metadata__"] is JsonObject meta:
            {
                string[] keys = ["format", "format_version", "method", "criterion", "tau", "scale", "experts", "layers", "library_version"];
                string[] values = [" 1", "2", "0", "bogus", "NaN", "1e309", "-1", "", "sara", "mo-sara", "SumFraction", "0.5", "1,5",
                    """{"fc1":{"k":999,"m":256,"n":32}}""", """{"fc1":{"k":2,"k":3,"m":256,"n":32}}""", "{}", "[]", "{\"a\\ud800\":{}}"];
                var key = keys[rng.Next(keys.Length)];
                var value = values[rng.Next(values.Length)];
                if (rng.Next(4) == 0) meta.Remove(key);
                else meta[key] = value;
                return $"metadata '{key}' -> '{SafeText.Name(value)}'";
            }
            case 5 when entry is not null:
            {
                entry.Remove(new[] { "dtype", "shape", "data_offsets" }[rng.Next(3)]);
                entry["extra"] = 1;
                return $"'{name}' entry lost a key";
            }
            case 6:
            {
                root[name] = Odd();
                return $"'{name}' entry -> {root[name]?.ToJsonString() ?? "null"}";
            }
            default:
            {
                // Two tensors swap their offsets (overlap, or shapes that no longer match their bytes).
                var other = names[rng.Next(names.Count)];
                if (entry is null || root[other] is not JsonObject o2) return "no change";
                (entry["data_offsets"], o2["data_offsets"]) = (o2["data_offsets"]!.DeepClone(), entry["data_offsets"]!.DeepClone());
                return $"swapped data_offsets of '{name}' and '{other}'";
            }
        }
    }

    private static string MutateData(Random rng, byte[] file, int dataStart)
    {
        if (file.Length - dataStart < 4) return "no data";
        int words = rng.Next(1, 6);
        var notes = new List<string>();
        for (int w = 0; w < words; w++)
        {
            int at = dataStart + rng.Next(file.Length - dataStart - 3);
            uint[] patterns = [0x7FC00000u, 0x7F800000u, 0xFF800000u, 0x7F7FFFFFu, 0x00000001u, (uint)rng.Next()];
            var p = patterns[rng.Next(patterns.Length)];
            BitConverter.GetBytes(p).CopyTo(file, at);
            notes.Add($"0x{p:X8}@{at}");
        }
        return string.Join(" ", notes);
    }

    private static byte[] MutateBytes(Random rng, byte[] bytes, int from, out string what)
    {
        switch (rng.Next(3))
        {
            case 0:
                int cut = rng.Next(from, bytes.Length);
                what = $"truncated at {cut}";
                return bytes[..cut];
            case 1:
                int n = rng.Next(1, 8);
                for (int i = 0; i < n; i++) bytes[rng.Next(from, bytes.Length)] = (byte)rng.Next(256);
                what = $"{n} random bytes";
                return bytes;
            default:
                int at = rng.Next(from, bytes.Length), len = Math.Min(rng.Next(1, 32), bytes.Length - at);
                what = $"spliced {len} bytes at {at}";
                return bytes.Take(at + len).Concat(bytes.Skip(at)).ToArray();
        }
    }

    // ---- a small ONNX model with inline and external weights ----

    private static readonly byte[] ExternalData = Enumerable.Range(0, 16 * 12).SelectMany(i => BitConverter.GetBytes(i * 0.01f)).ToArray();

    private static byte[] SmallOnnx()
    {
        var rand = new Rand(4);
        var graph = new GraphProto { Name = "g" };
        graph.Initializer.Add(new TensorProto { Name = "fc.w", DataType = 1, Dims = { 12, 10 }, FloatData = { rand.Normal(120) } });
        graph.Initializer.Add(new TensorProto
        {
            Name = "mm.w", DataType = 1, Dims = { 16, 12 }, RawData = ByteString.CopyFrom(rand.Normal(192).SelectMany(BitConverter.GetBytes).ToArray()),
        });
        var ext = new TensorProto { Name = "ext.w", DataType = 1, Dims = { 16, 12 }, DataLocation = TensorProto.Types.DataLocation.External };
        ext.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "model.onnx.data" });
        ext.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
        ext.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = (16 * 12 * 4).ToString(CultureInfo.InvariantCulture) });
        graph.Initializer.Add(ext);
        graph.Node.Add(new NodeProto { OpType = "Gemm", Input = { "x", "fc.w" }, Output = { "y" }, Attribute = { new AttributeProto { Name = "transB", I = 1, Type = AttributeProto.Types.AttributeType.Int } } });
        graph.Node.Add(new NodeProto { OpType = "MatMul", Input = { "y", "mm.w" }, Output = { "z" } });
        graph.Node.Add(new NodeProto { OpType = "MatMul", Input = { "z", "ext.w" }, Output = { "o" } });
        return new ModelProto { IrVersion = 8, Graph = graph }.ToByteArray();
    }
}
