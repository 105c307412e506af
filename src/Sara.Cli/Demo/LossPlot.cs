using ScottPlot;
using Sara.Native.IO;

namespace Sara.Cli.Demo;

/// <summary>PNG of the training-loss curves: pretraining on the source task (left), the three adaptations on the shifted task (right).</summary>
internal static class LossPlot
{
    public static void Save(string path, float[] pretrain, IReadOnlyList<(string Method, float[] Losses)> adaptations)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        var left = multiplot.GetPlot(0);
        Line(left, pretrain, "dense pretraining");
        left.Title("pretraining (source task)");
        left.XLabel("step");
        left.YLabel("train cross-entropy");
        var right = multiplot.GetPlot(1);
        foreach (var (method, losses) in adaptations) Line(right, losses, method);
        right.Title("adaptation (shifted task)");
        right.XLabel("step");
        right.YLabel("train cross-entropy");
        right.ShowLegend(Alignment.UpperRight);
        using var image = multiplot.Render(1400, 560);
        AtomicFile.WriteAllBytes(path, image.GetImageBytes(ImageFormat.Png));
    }

    private static void Line(Plot plot, float[] losses, string label)
    {
        if (losses.Length == 0) return;
        var xs = Enumerable.Range(1, losses.Length).Select(i => (double)i).ToArray();
        var line = plot.Add.ScatterLine(xs, losses.Select(v => (double)v).ToArray());
        line.LegendText = label;
        line.LineWidth = 1.5f;
    }
}
