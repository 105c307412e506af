using ScottPlot;
using Sara.Native.IO;
using Sara.Native.Svd;

namespace Sara.Cli.Analysis;

/// <summary>
/// PNG of a rank plan (ScottPlot, headless): left, each layer's singular values normalised by s_1 against i / min(m, n),
/// with the chosen cut k marked; right, the rank k per layer. Written atomically (temporary file, then rename).
/// </summary>
public static class SpectrumPlot
{
    public static void Save(string path, IReadOnlyList<LayerRank> layers, IReadOnlyList<float[]> spectra, string title)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        var spectrum = multiplot.GetPlot(0);
        var ranks = multiplot.GetPlot(1);

        for (var i = 0; i < layers.Count; i++)
        {
            var s = spectra[i];
            if (s.Length == 0 || s[0] <= 0) continue;
            int r = Math.Min(layers[i].Rows, layers[i].Cols);
            var xs = Enumerable.Range(1, s.Length).Select(j => (double)j / r).ToArray();
            var ys = s.Select(v => Math.Max(v / (double)s[0], 1e-6)).ToArray();
            var line = spectrum.Add.ScatterLine(xs, ys.Select(Math.Log10).ToArray());
            line.LineWidth = 1;
            var k = layers[i].K;
            if (k <= s.Length)
            {
                var cut = spectrum.Add.Marker(xs[k - 1], Math.Log10(ys[k - 1]));
                cut.Color = line.Color;
                cut.Size = 8;
            }
        }
        spectrum.Title($"{title}: normalised spectra (marker = chosen k)");
        spectrum.XLabel("i / min(m, n)");
        spectrum.YLabel("log10(s_i / s_1)");

        var bars = ranks.Add.Bars(layers.Select(l => (double)l.K).ToArray());
        bars.Color = Colors.SteelBlue;
        ranks.Title("rank k per layer");
        ranks.XLabel("layer index (plan order)");
        ranks.YLabel("k");
        ranks.Axes.Margins(bottom: 0);

        using var image = multiplot.Render(1400, 600);
        AtomicFile.WriteAllBytes(path, image.GetImageBytes(ImageFormat.Png));
    }
}
