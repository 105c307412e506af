// `sara merge` on inputs it must refuse (output = base, a non-float base tensor, a shape mismatch, corrupt files) and on
// the bases it must handle (F16/BF16 weights, the emu device). Refusals are asserted by exit code, one stderr line, the
// key words of the message and no output file, not by exact wording.
using Sara.Native.IO;
using Sara.Tests.Support;

namespace Sara.Tests.Cli;

public sealed class MergeInputTests : CliTestBase
{
    private const int M = 12, N = 20, K = 3;
    private const double Scale = 0.5;

    private string WriteBase(Rand rand, SafetensorsDType weightType = SafetensorsDType.F32, string name = "base.safetensors")
    {
        var writer = new SafetensorsWriter();
        writer.Add("fc.weight", weightType, [M, N], rand.Normal(M * N));
        writer.Add("fc.bias", weightType, [M], rand.Normal(M));
        writer.AddRaw("step", SafetensorsDType.I64, [1], BitConverter.GetBytes(7L));
        var path = PathOf(name);
        writer.Save(path);
        return path;
    }

    private string WriteAdapter(Rand rand, string layer = "fc", int m = M, int n = N)
    {
        var adapter = new AdapterFile(AdapterMetadata.Create(AdapterMethod.Sara, "SumFraction", 0.2, Scale));
        adapter.AddLayer(AdapterLayer.Sara(layer, m, n, rand.Normal(K), rand.Normal(m * K, 0.5), rand.Normal(K * n, 0.5)));
        var path = PathOf("adapter.safetensors");
        adapter.Save(path);
        return path;
    }

    private static void AssertRefused(CliRun run, string outPath, params string[] keyWords)
    {
        Assert.That(run.ExitCode, Is.Not.EqualTo(0), "refused");
        Assert.That(run.Err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), $"one line: {run.Err}");
        Assert.That(run.Err, Does.Not.Contain("   at "), "no stack trace");
        foreach (var w in keyWords) Assert.That(run.Err, Does.Contain(w).IgnoreCase, run.Err);
        Assert.That(File.Exists(outPath), Is.False, "no output written");
    }

    [Test]
    public void AnOutputThatIsTheBaseIsRefusedAndTheBaseKeptIntact()
    {
        var rand = new Rand();
        var basePath = WriteBase(rand);
        var adapterPath = WriteAdapter(rand);
        var before = File.ReadAllBytes(basePath);
        var sameFile = Path.Combine(Dir, ".", "base.safetensors");   // spelled differently, the same file
        var run = Sara("merge", basePath, adapterPath, "-o", sameFile, "--device", "cpu");
        Assert.That(run.ExitCode, Is.Not.EqualTo(0));
        Assert.That(run.Err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), run.Err);
        Assert.That(run.Err, Does.Contain("output").And.Contain("base"));
        Assert.That(File.ReadAllBytes(basePath), Is.EqualTo(before), "the base checkpoint must not change");
    }

    [Test]
    public void ANonFloatBaseTensorIsRefused()
    {
        var rand = new Rand();
        var writer = new SafetensorsWriter();
        writer.AddRaw("fc.weight", SafetensorsDType.I32, [M, N], new byte[M * N * 4]);
        var basePath = PathOf("int.safetensors");
        writer.Save(basePath);
        var outPath = PathOf("out.safetensors");
        AssertRefused(Sara("merge", basePath, WriteAdapter(rand), "-o", outPath, "--device", "cpu"), outPath, "fc.weight", "float");
    }

    [Test]
    public void AShapeMismatchIsRefusedNamingTheLayer()
    {
        var rand = new Rand();
        var basePath = WriteBase(rand);
        var outPath = PathOf("out.safetensors");
        AssertRefused(Sara("merge", basePath, WriteAdapter(rand, n: N + 1), "-o", outPath, "--device", "cpu"), outPath,
            "fc", "shape", $"{M} x {N}", $"{M} x {N + 1}");
    }

    [TestCase("base"), TestCase("adapter")]
    public void ACorruptFileIsRefused(string which)
    {
        var rand = new Rand();
        var basePath = WriteBase(rand);
        var adapterPath = WriteAdapter(rand);
        var corrupt = which == "base" ? basePath : adapterPath;
        var bytes = File.ReadAllBytes(corrupt);
        File.WriteAllBytes(corrupt, bytes[..(bytes.Length / 2)]);   // truncated: the header promises more data
        var outPath = PathOf("out.safetensors");
        AssertRefused(Sara("merge", basePath, adapterPath, "-o", outPath, "--device", "cpu"), outPath, Path.GetFileName(corrupt));

        File.WriteAllBytes(corrupt, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3]);   // absurd header length
        AssertRefused(Sara("merge", basePath, adapterPath, "-o", outPath, "--device", "cpu"), outPath, Path.GetFileName(corrupt));
    }

    [TestCase(SafetensorsDType.F16), TestCase(SafetensorsDType.BF16)]
    public void HalfPrecisionBasesMergeInTheirOwnDType(SafetensorsDType dtype)
    {
        var rand = new Rand();
        var basePath = WriteBase(rand, dtype);
        var adapterPath = WriteAdapter(rand);
        var outPath = PathOf("merged.safetensors");
        var run = Sara("merge", basePath, adapterPath, "-o", outPath, "--device", "cpu");
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);

        using var b = SafetensorsFile.Open(basePath);
        using var merged = SafetensorsFile.Open(outPath);
        Assert.That(merged.Tensors.Select(t => (t.Name, t.DType)), Is.EqualTo(b.Tensors.Select(t => (t.Name, t.DType))));
        Assert.That(merged.GetBytes("fc.bias").ToArray(), Is.EqualTo(b.GetBytes("fc.bias").ToArray()), "other tensors copied byte for byte");
        Assert.That(merged.GetBytes("step").ToArray(), Is.EqualTo(b.GetBytes("step").ToArray()));

        // Each merged weight is the dtype's nearest value to the float64 merge of the decoded base (half a step of the
        // dtype, plus float32 rounding of the sum).
        var want = MergeCommandTests.Oracle(b.ReadFloats("fc.weight"), AdapterFile.Load(adapterPath).Layers[0], Scale);
        var got = merged.ReadFloats("fc.weight");
        var worst = 0.0;
        for (var i = 0; i < got.Length; i++)
        {
            var step = Math.ScaleB(1.0, Math.ILogB(want[i]) - MantissaBits(dtype));   // the dtype's spacing at want[i] (no subnormals here)
            var ulps = Math.Abs(got[i] - want[i]) / step;
            worst = Math.Max(worst, ulps);
        }
        TestContext.Out.WriteLine($"{dtype}: largest |merged - float64| = {worst:F3} steps of the dtype");
        Assert.That(worst, Is.Not.NaN.And.LessThan(0.51), "rounded to the nearest value of the dtype");
        Assert.That(got, Is.Not.EqualTo(b.ReadFloats("fc.weight")), "the adapter changed the weight");
    }

    [Test]
    public void TheEmuDeviceMergesLikeTheFloat64Oracle()
    {
        var rand = new Rand();
        var basePath = WriteBase(rand);
        var adapterPath = WriteAdapter(rand);
        var outPath = PathOf("merged.safetensors");
        var run = Sara("merge", basePath, adapterPath, "-o", outPath, "--device", "emu");
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Does.Contain("on emu"));
        using var b = SafetensorsFile.Open(basePath);
        using var merged = SafetensorsFile.Open(outPath);
        Oracle.AssertClose(merged.ReadFloats("fc.weight"), MergeCommandTests.Oracle(b.ReadFloats("fc.weight"), AdapterFile.Load(adapterPath).Layers[0], Scale), 1e-6, "merged on emu");
    }

    private static int MantissaBits(SafetensorsDType dtype) => dtype == SafetensorsDType.F16 ? 10 : 7;
}
