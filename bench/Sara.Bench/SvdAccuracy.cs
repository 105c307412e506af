// SvdAccuracy.cs — the accuracy beside the SVD times: max over i <= k of |s_i - s_i^exact| / s_i^exact, against the
// vendor solver's values and against the matrix's known spectrum.
using Sara.Native.Backends;
using Sara.Native.Svd;

namespace Sara.Bench;

public sealed record SvdAccuracyRow(int N, int K, int SketchWidth, double VsExact, double VsKnown);

public static class SvdAccuracy
{
    public static List<SvdAccuracyRow> Measure(Backend backend)
    {
        var rows = new List<SvdAccuracyRow>();
        foreach (var n in Shapes.SvdN)
        {
            var (w, known) = BenchData.WithPowerLawSpectrum(n, Shapes.SpectrumExponent, 11);
            using var wt = backend.FromArray(w, n, n);
            var exact = TruncatedSvd.ExactSingularValues(backend, wt);
            foreach (var k in Shapes.SvdK)
            {
                using var svd = TruncatedSvd.Compute(backend, wt, TruncatedSvdBenchmarks.Options(k));
                double vsExact = 0, vsKnown = 0;
                for (var i = 0; i < k; i++)
                {
                    vsExact = Math.Max(vsExact, Math.Abs(svd.S[i] - (double)exact[i]) / exact[i]);
                    vsKnown = Math.Max(vsKnown, Math.Abs(svd.S[i] - known[i]) / known[i]);
                }
                rows.Add(new SvdAccuracyRow(n, k, svd.SketchWidth, vsExact, vsKnown));
            }
        }
        return rows;
    }
}
