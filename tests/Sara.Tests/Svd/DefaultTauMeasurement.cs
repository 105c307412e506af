using System.Globalization;
using System.Reflection;
using Sara.Native.Backends;
using Sara.Native.IO;
using Sara.Native.Svd;

namespace Sara.Tests.Svd;

/// <summary>
/// How RankOptions.DefaultTau was chosen (Svd/README.md): the ranks each tau gives on ResNet18's pretrained weights and on
/// power-law spectra of LLM-sized layers. Explicit: a measurement that prints a table, run by hand.
/// </summary>
[Explicit("measurement for Svd/README.md; prints a table")]
public class DefaultTauMeasurement
{
    private static readonly double[] Taus = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 0.9];

    [Test]
    public void RanksPerTau()
    {
        var path = typeof(DefaultTauMeasurement).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .First(a => a.Key == "ResNet18Onnx").Value!;
        using var backend = new CpuBackend();
        using var source = WeightSource.Open(path);
        var spectra = new List<(string Name, float[] S)>();
        foreach (var m in source.Matrices.Where(m => Math.Min(m.Rows, m.Cols) >= 64))
        {
            using var w = backend.FromArray(m.Load(), m.Rows, m.Cols);
            spectra.Add(($"{m.Name} {m.Rows}x{m.Cols}", TruncatedSvd.ExactSingularValues(backend, w)));
        }
        TestContext.Out.WriteLine($"ResNet18: {spectra.Count} weight matrices with min(m, n) >= 64 (conv as out x in*kh*kw)");
        Report("ResNet18", spectra);

        foreach (var r in new[] { 768, 4096 })
            Report($"power law r={r}", new[] { 0.3, 0.5, 0.7, 1.0 }.Select(a =>
                ($"a={a}", SvdTestMatrices.PowerLaw(r, a).Select(x => (float)x).ToArray())).ToList());
    }

    private static void Report(string title, List<(string Name, float[] S)> spectra)
    {
        TestContext.Out.WriteLine($"\n{title}: SumFraction rank (no clamps) per tau — median [min, max] over layers");
        foreach (var tau in Taus)
        {
            var o = new RankOptions(RankCriterion.SumFraction, tau, KMin: 1, KMax: int.MaxValue);
            var raw = spectra.Select(x => RankPlanner.ChooseRank(x.S, x.S.Sum(v => (double)v), o, out _)).ToArray();
            var ks = raw.Order().ToArray();
            var e = o with { Criterion = RankCriterion.EnergyFraction };
            var ke = spectra.Select(x => RankPlanner.ChooseRank(x.S, x.S.Sum(v => (double)v * v), e, out _)).Order().ToArray();
            var line = string.Create(CultureInfo.InvariantCulture,
                $"tau {tau,4}: sum {ks[ks.Length / 2],4} [{ks[0]}, {ks[^1]}]   energy {ke[ke.Length / 2],4} [{ke[0]}, {ke[^1]}]");
            if (spectra.Count <= 4) line += "   " + string.Join(" ", spectra.Select((x, i) => $"{x.Name}:{raw[i]}"));
            TestContext.Out.WriteLine(line);
        }
    }
}
