// `sara merge`: W0 + s A diag(lambda) B against a float64 oracle, other tensors byte for byte, Mo-SARA refused.
using Sara.Cli.Merge;
using Sara.Native.IO;
using Sara.Tests.Support;

namespace Sara.Tests.Cli;

public sealed class MergeCommandTests : CliTestBase
{
    private const int M1 = 40, N1 = 56, K1 = 6, M2 = 24, N2 = 3 * 3 * 3, K2 = 4;

    private (string Base, float[] W1, float[] W2) WriteBase(Rand rand)
    {
        var w1 = rand.Normal(M1 * N1);
        var w2 = rand.Normal(M2 * N2);
        var writer = new SafetensorsWriter();
        writer.Metadata["origin"] = "test";
        writer.Add("fc.weight", SafetensorsDType.F32, [M1, N1], w1);
        writer.Add("fc.bias", SafetensorsDType.F32, [M1], rand.Normal(M1));
        writer.Add("conv", SafetensorsDType.F32, [M2, 3, 3, 3], w2);
        writer.AddRaw("step", SafetensorsDType.I64, [2], BitConverter.GetBytes(42L).Concat(BitConverter.GetBytes(-7L)).ToArray());
        var path = PathOf("base.safetensors");
        writer.Save(path);
        return (path, w1, w2);
    }

    [Test]
    public void MergedWeightsMatchTheFloat64OracleAndTheRestIsCopied()
    {
        var rand = new Rand();
        var (basePath, w1, w2) = WriteBase(rand);
        const double scale = 0.75;
        var layers = new[] { ("fc", M1, N1, K1), ("conv", M2, N2, K2) }
            .Select(l => AdapterLayer.Sara(l.Item1, l.Item2, l.Item3, rand.Normal(l.Item4), rand.Normal(l.Item2 * l.Item4, 0.3), rand.Normal(l.Item4 * l.Item3, 0.3)))
            .ToList();
        var adapter = new AdapterFile(AdapterMetadata.Create(AdapterMethod.Sara, "SumFraction", 0.25, scale));
        foreach (var l in layers) adapter.AddLayer(l);
        var adapterPath = PathOf("adapter.safetensors");
        adapter.Save(adapterPath);
        var outPath = PathOf("merged.safetensors");
        File.WriteAllBytes(outPath, Enumerable.Repeat((byte)0xFF, 64).ToArray()); // poisoned: must be replaced

        var run = Sara("merge", basePath, adapterPath, "-o", outPath, "--device", "cpu");
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);

        using var baseFile = SafetensorsFile.Open(basePath);
        using var merged = SafetensorsFile.Open(outPath);
        Assert.That(merged.Tensors.Select(t => (t.Name, t.DType, string.Join(",", t.Shape))),
            Is.EqualTo(baseFile.Tensors.Select(t => (t.Name, t.DType, string.Join(",", t.Shape)))));
        Assert.That(merged.GetBytes("fc.bias").ToArray(), Is.EqualTo(baseFile.GetBytes("fc.bias").ToArray()));
        Assert.That(merged.GetBytes("step").ToArray(), Is.EqualTo(baseFile.GetBytes("step").ToArray()));
        Assert.That(merged.Metadata["origin"], Is.EqualTo("test"));

        foreach (var (name, w0, layer) in new[] { ("fc.weight", w1, layers[0]), ("conv", w2, layers[1]) })
        {
            var expected = Oracle(w0, layer, scale);
            var got = merged.ReadFloats(name);
            double num = 0, den = 0;
            for (var i = 0; i < got.Length; i++)
            {
                num += (got[i] - expected[i]) * (got[i] - expected[i]);
                den += expected[i] * expected[i];
            }
            var rel = Math.Sqrt(num / den);
            TestContext.Out.WriteLine($"{name}: relative error {rel:E2}");
            Assert.That(rel, Is.Not.NaN.And.LessThan(1e-6), name);
            Assert.That(got, Is.Not.EqualTo(w0), "the adapter changed the weight");
        }
    }

    /// <summary>Float64 W0 + s A diag(lambda) B of an adapter layer (also the oracle of MergeInputTests and DemoCommandTests).</summary>
    internal static double[] Oracle(float[] w0, AdapterLayer l, double s)
    {
        var a = l.Tensors["A"].Data;
        var b = l.Tensors["B"].Data;
        var lam = l.Tensors["lambda"].Data;
        var result = new double[l.M * l.N];
        for (var i = 0; i < l.M; i++)
            for (var j = 0; j < l.N; j++)
            {
                double acc = 0;
                for (var r = 0; r < l.K; r++) acc += (double)a[i * l.K + r] * lam[r] * b[r * l.N + j];
                result[i * l.N + j] = w0[i * l.N + j] + s * acc;
            }
        return result;
    }

    [Test]
    public void MoSaraAdapterIsRefusedWithOneLine()
    {
        var rand = new Rand();
        var (basePath, _, _) = WriteBase(rand);
        var adapter = new AdapterFile(AdapterMetadata.Create(AdapterMethod.MoSara, "SumFraction", 0.25, 1.0, experts: 2));
        adapter.AddLayer(AdapterLayer.MoSara("fc", M1, N1, K1, rand.Normal(2 * K1), rand.Normal(2 * K1), rand.Normal(2),
            rand.Normal(M1 * K1), rand.Normal(K1 * N1)));
        var adapterPath = PathOf("mo.safetensors");
        adapter.Save(adapterPath);
        var run = Sara("merge", basePath, adapterPath, "-o", PathOf("out.safetensors"), "--device", "cpu");
        Assert.That(run.ExitCode, Is.Not.EqualTo(0));
        Assert.That(run.Err.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(run.Err, Does.Contain("Mo-SARA").And.Contain("cannot be merged"));
        Assert.That(File.Exists(PathOf("out.safetensors")), Is.False);
    }

    [Test]
    public void AdapterLayerMissingFromTheBaseIsRefused()
    {
        var rand = new Rand();
        var (basePath, _, _) = WriteBase(rand);
        var adapter = new AdapterFile(AdapterMetadata.Create(AdapterMethod.Sara, "SumFraction", 0.25, 1.0));
        adapter.AddLayer(AdapterLayer.Sara("nope", M1, N1, rand.Normal(K1), rand.Normal(M1 * K1), rand.Normal(K1 * N1)));
        var adapterPath = PathOf("a.safetensors");
        adapter.Save(adapterPath);
        var run = Sara("merge", basePath, adapterPath, "-o", PathOf("out.safetensors"));
        Assert.That(run.ExitCode, Is.Not.EqualTo(0));
        Assert.That(run.Err.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(run.Err, Does.Contain("nope"));
    }
}
