// `sara analyze` on a small safetensors file written here (totals checked by hand) and on the real ResNet18 ONNX model.
using System.Globalization;
using Google.Protobuf;
using Onnx;
using Sara.Native.Backends;
using Sara.Native.IO;
using Sara.Native.Svd;
using Sara.Tests.Support;

namespace Sara.Tests.Cli;

public sealed class AnalyzeCommandTests : CliTestBase
{
    private static readonly (string Name, int M, int N)[] Layers = [("enc.q.weight", 48, 40), ("enc.k.weight", 32, 64), ("head.weight", 10, 48)];

    private string WriteCheckpoint(Rand rand)
    {
        var writer = new SafetensorsWriter();
        foreach (var (name, m, n) in Layers)
        {
            // Low-rank-ish: a rank-5 product plus small noise, so the spectrum has a knee.
            var u = rand.Normal(m * 5);
            var v = rand.Normal(5 * n);
            var noise = rand.Normal(m * n, 0.05);
            var w = new float[m * n];
            for (var i = 0; i < m; i++)
                for (var j = 0; j < n; j++)
                {
                    double acc = noise[i * n + j];
                    for (var r = 0; r < 5; r++) acc += u[i * 5 + r] * v[r * n + j];
                    w[i * n + j] = (float)acc;
                }
            writer.Add(name, [m, n], w);
        }
        writer.Add("head.bias", [10], rand.Normal(10));
        var path = PathOf("model.safetensors");
        writer.Save(path);
        return path;
    }

    [Test]
    public void PrintsThePlanAndTotalsAndWritesLoadableJson()
    {
        var path = WriteCheckpoint(new Rand());
        var json = PathOf("plan.json");
        var run = Sara("analyze", path, "--threshold", "0.5", "--min-rank", "2", "--max-rank", "12", "--experts", "3",
            "--device", "cpu", "--json", json);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Err, Is.Empty);

        var plan = RankPlan.FromJson(File.ReadAllText(json));
        Assert.That(plan.Layers.Select(l => (l.Layer, l.Rows, l.Cols)), Is.EqualTo(Layers));
        Assert.That(run.Out, Does.Not.Contain("head.bias"));
        long sara = 0, lambdaOnly = 0, mo = 0, lora8 = 0, lora16 = 0, full = 0;
        foreach (var l in plan.Layers)
        {
            Assert.That(l.K, Is.InRange(2, Math.Min(12, Math.Min(l.Rows, l.Cols))), l.Layer);
            var row = Row(run.Out, l.Layer);
            Assert.That(row[1], Is.EqualTo($"{l.Rows}x{l.Cols}"));
            Assert.That(int.Parse(row[2], CultureInfo.InvariantCulture), Is.EqualTo(l.K));
            Assert.That(Number(row[3]), Is.EqualTo(l.FractionReached).Within(1e-4));
            Assert.That(l.FractionReached, Is.GreaterThanOrEqualTo(0.5 - 1e-9).Or.EqualTo(1.0), "k reaches tau unless clamped");
            long m = l.Rows, n = l.Cols, k = l.K;
            sara += k + m * k + k * n;
            lambdaOnly += k;
            mo += 2 * 3 * k + 3;
            lora8 += 8 * (m + n);
            lora16 += 16 * (m + n);
            full += m * n;
        }
        Assert.That(Count(Row(run.Out, "SARA (lambda + A + B: k + mk + kn)")[1]), Is.EqualTo(sara));
        Assert.That(Count(Row(run.Out, "SARA (lambda only: k)")[1]), Is.EqualTo(lambdaOnly));
        Assert.That(Count(Row(run.Out, "Mo-SARA (E = 3: 2Ek + E)")[1]), Is.EqualTo(mo));
        Assert.That(Count(Row(run.Out, "LoRA r = 8: r(m + n)")[1]), Is.EqualTo(lora8));
        Assert.That(Count(Row(run.Out, "LoRA r = 16: r(m + n)")[1]), Is.EqualTo(lora16));
        Assert.That(Count(Row(run.Out, "full fine-tuning: mn")[1]), Is.EqualTo(full));
    }

    [Test]
    public void IncludeAndExcludeSelectLayers()
    {
        var path = WriteCheckpoint(new Rand());
        var json = PathOf("plan.json");
        var run = Sara("analyze", path, "--include", "enc.*", "--exclude", "*.k.*", "--device", "cpu", "--json", json);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(RankPlan.FromJson(File.ReadAllText(json)).Layers.Select(l => l.Layer), Is.EqualTo(new[] { "enc.q.weight" }));
    }

    [Test]
    public void PlotWritesAPng()
    {
        var path = WriteCheckpoint(new Rand());
        var png = PathOf("out/plan.png");
        var run = Sara("analyze", path, "--device", "cpu", "--criterion", "energy", "--plot", png);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var bytes = File.ReadAllBytes(png);
        Assert.That(bytes.Length, Is.GreaterThan(10_000));
        Assert.That(bytes[..8], Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }));
    }

    [Test]
    public void ResNet18EveryConvIsPlannedWithinTheClamps()
    {
        Assert.That(File.Exists(ResNet18Path), Is.True, ResNet18Path);
        // Independent list: decode the protobuf and take every Conv / Gemm / MatMul weight input.
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(ResNet18Path));
        var dims = model.Graph.Initializer.ToDictionary(t => t.Name, t => t.Dims.ToArray());
        var expected = model.Graph.Node.Where(n => n.OpType is "Conv" or "Gemm" or "MatMul" && dims.ContainsKey(n.Input[1]))
            .Select(n => n.Input[1]).OrderBy(x => x, StringComparer.Ordinal).ToList();
        Assert.That(expected, Has.Count.GreaterThanOrEqualTo(20));

        var json = PathOf("resnet.json");
        var run = Sara("analyze", ResNet18Path, "--device", "cpu", "--min-rank", "4", "--max-rank", "64", "--json", json);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var plan = RankPlan.FromJson(File.ReadAllText(json));
        Assert.That(plan.Layers.Select(l => l.Layer).OrderBy(x => x, StringComparer.Ordinal), Is.EqualTo(expected));
        foreach (var l in plan.Layers)
        {
            var d = dims[l.Layer];
            Assert.That((l.Rows, l.Cols), Is.EqualTo(((int)d[0], (int)d.Skip(1).Aggregate(1L, (a, x) => a * x))), l.Layer);
            Assert.That(l.K, Is.InRange(4, Math.Min(64, Math.Min(l.Rows, l.Cols))), l.Layer);
            Assert.That(Row(run.Out, l.Layer)[2], Is.EqualTo(l.K.ToString(CultureInfo.InvariantCulture)));
        }
    }

    /// <summary>
    /// Truncated SVD of real conv weights at the plan's rank against LAPACK's full spectrum. Options recorded here:
    /// oversampling 64, 12 power iterations (with oversampling 10 and 6 iterations the flat tails of conv spectra miss by ~2e-2).
    /// </summary>
    [Test]
    public void ResNet18TruncatedSingularValuesAgreeWithLapack()
    {
        using var backend = Devices.Create("cpu");
        using var source = WeightSource.Open(ResNet18Path);
        var picked = new[] { source.Matrices[1], source.Matrices[source.Matrices.Count / 2], source.Matrices[^1] };
        var svdOptions = new SvdOptions(1, Oversampling: 64, PowerIterations: 12, Seed: 3);
        foreach (var m in picked)
        {
            using var w = backend.FromArray(m.Load(), m.Rows, m.Cols);
            var plan = RankPlanner.ForMatrix(backend, m.Name, w, new RankOptions(KMin: 4, KMax: 64));
            var exact = TruncatedSvd.ExactSingularValues(backend, w);
            using var svd = TruncatedSvd.Compute(backend, w, svdOptions with { Rank = plan.K });
            var worst = Enumerable.Range(0, plan.K).Max(i => Math.Abs(svd.S[i] - (double)exact[i]) / exact[i]);
            TestContext.Out.WriteLine($"{m.Name} {m.Rows}x{m.Cols} k={plan.K}: worst relative error of s_1..s_k {worst:E2}");
            Assert.That(worst, Is.Not.NaN.And.LessThan(1e-3), m.Name);
        }
    }
}
