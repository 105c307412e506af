// CensusReport.cs — tables of a launch census: every kernel launch with its grid, block, blocks, shared memory, modelled
// bytes and flops and its H200 floor (max(flops / 67 TFLOP/s, bytes / 4.8 TB/s)); library calls and copies summed.
// Shared by the census tests, bench/Sara.Bench (--census) and bench/Sara.DeviceCheck (with measured times).
using System.Globalization;
using System.Text;
using Sara.Native.Backends;
using Sara.Native.Runtime;

namespace Sara.Tests.Census;

public static class CensusReport
{
    /// <summary>Launches that move more than this many bytes must have <see cref="MinBlocks"/> blocks or be allow-listed.</summary>
    public const double LargeLaunchBytes = 1e6;

    /// <summary>Two waves on the 132 SMs of an H200.</summary>
    public const int MinBlocks = 264;

    public static int KernelLaunches(IEnumerable<CensusEntry> entries, params string[] phases) =>
        entries.Count(e => e.Kind == CensusKind.Kernel && (phases.Length == 0 || phases.Contains(e.Phase)));

    public static int LibraryCalls(IEnumerable<CensusEntry> entries, params string[] phases) =>
        entries.Count(e => e.Kind == CensusKind.Library && (phases.Length == 0 || phases.Contains(e.Phase)));

    public static int HostCopies(IEnumerable<CensusEntry> entries) => entries.Count(e => e.Kind == CensusKind.Copy && e.Name == "copy device to host");

    private static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>
    /// Markdown rows, one per kernel launch (library calls: one row per call, no grid). staticShared: kernel -> bytes
    /// from ptxas (null: column left out). With measured times (a timed census) two more columns: measured us, % of floor.
    /// </summary>
    public static string Table(IEnumerable<CensusEntry> entries, IReadOnlyDictionary<string, int>? staticShared, bool withLibrary = true)
    {
        var list = entries.Where(e => e.Kind == CensusKind.Kernel || (withLibrary && e.Kind == CensusKind.Library)).ToList();
        var timed = list.Any(e => e.Milliseconds is not null);
        var sb = new StringBuilder();
        sb.Append("| phase | launch | grid | block | blocks | smem B (static + dyn) | MB | GFLOP | H200 floor us |");
        if (timed) sb.Append(" measured us | % of floor |");
        sb.AppendLine();
        sb.Append("|---|---|---|---|---:|---:|---:|---:|---:|");
        if (timed) sb.Append("---:|---:|");
        sb.AppendLine();
        foreach (var e in list)
        {
            var (flops, bytes) = KernelCosts.Of(e);
            var floorUs = KernelCosts.H200Floor(e) * 1e6;
            var kernel = e.Kind == CensusKind.Kernel;
            var smem = !kernel ? "" : staticShared is null ? $"{e.DynamicSharedBytes}"
                : $"{(staticShared.TryGetValue(e.Name, out var st) ? st : 0)} + {e.DynamicSharedBytes}";
            sb.Append($"| {e.Phase} | {(kernel ? $"`{e.Name}`" : $"{e.Name} {e.Detail}")} | {(kernel ? Dims(e.Grid) : "")} | " +
                      $"{(kernel ? Dims(e.Block) : "")} | {(kernel ? e.Blocks.ToString(CultureInfo.InvariantCulture) : "")} | {smem} | " +
                      $"{F(bytes / 1e6, "F2")} | {F(flops / 1e9, "F3")} | {F(floorUs, "F1")} |");
            if (timed)
            {
                var us = e.Milliseconds is { } ms ? ms * 1e3 : double.NaN;
                sb.Append($" {F(us, "F1")} | {F(floorUs / us * 100, "F0")}% |");
            }
            sb.AppendLine();
        }
        return sb.ToString();
    }

    /// <summary>One summary row of a step: launches per phase, library calls, host copies, largest-launch blocks, total floor.</summary>
    public static string Summary(string label, IReadOnlyList<CensusEntry> entries)
    {
        var kernels = entries.Where(e => e.Kind == CensusKind.Kernel).ToList();
        var big = kernels.Where(e => KernelCosts.Of(e).Bytes > LargeLaunchBytes).ToList();
        var floor = entries.Where(e => e.Kind != CensusKind.Copy).Sum(KernelCosts.H200Floor);
        var kernelFloor = kernels.Sum(KernelCosts.H200Floor);
        string PerPhase(Func<IEnumerable<CensusEntry>, string[], int> count) =>
            string.Join(" / ", CensusSteps.Phases.Select(p => count(entries, [p]).ToString(CultureInfo.InvariantCulture)));
        return $"| {label} | {PerPhase(KernelLaunches)} | {PerPhase(LibraryCalls)} | {HostCopies(entries)} | " +
               $"{(big.Count == 0 ? "-" : big.Min(e => e.Blocks).ToString(CultureInfo.InvariantCulture))} | " +
               $"{F(kernelFloor * 1e6, "F1")} | {F(floor * 1e6, "F1")} |";
    }

    public const string SummaryHeader =
        "| step | kernel launches (fwd / seed / bwd / adamw) | library calls (fwd / seed / bwd / adamw) | host copies | fewest blocks of a launch > 1 MB | H200 floor of the kernels, us | H200 floor of the step, us |\n" +
        "|---|---|---|---:|---:|---:|---:|";

    public const string ReadmeBegin = "<!-- census:begin (generated: dotnet run --project bench/Sara.Bench -c Release -- --census) -->";
    public const string ReadmeEnd = "<!-- census:end -->";

    /// <summary>
    /// The census section of bench/README.md: the summary of every layer kind at the reference shapes, then each launch of a
    /// SARA (with bias) and a Mo-SARA step at k = 16 and k = 64. Dry runs on the emulated runtime: the same text on any machine.
    /// </summary>
    public static string ReadmeSection(IReadOnlyDictionary<string, int> staticShared)
    {
        var sb = new StringBuilder();
        sb.AppendLine(ReadmeBegin);
        sb.AppendLine(SummaryHeader);
        var steps = new Dictionary<(CensusLayer, int), IReadOnlyList<CensusEntry>>();
        foreach (var layer in Enum.GetValues<CensusLayer>())
            foreach (var shape in CensusSteps.Reference)
            {
                using var backend = DryRunBackend(out var census);
                var step = CensusSteps.Step(backend, census, layer, shape);
                steps[(layer, shape.K)] = step;
                sb.AppendLine(Summary($"{layer}, k = {shape.K}", step));
            }
        foreach (var (layer, k) in new[]
                 {
                     (CensusLayer.SaraWithBias, 16), (CensusLayer.SaraWithBias, 64), (CensusLayer.MoSara, 16), (CensusLayer.MoSara, 64),
                     (CensusLayer.SaraBf16, 16),
                 })
        {
            sb.AppendLine();
            sb.AppendLine($"{layer}, T = n = m = 4096, k = {k}:");
            sb.AppendLine();
            sb.Append(Table(steps[(layer, k)], staticShared));
        }
        sb.AppendLine(ReadmeEnd);
        return sb.ToString();
    }

    /// <summary>A CudaBackend on a dry-run census of the emulated runtime.</summary>
    public static CudaBackend DryRunBackend(out LaunchCensus census)
    {
        var runtime = new CensusRuntime(new EmulatedRuntime(), dryRun: true);
        census = runtime.Census;
        return new CudaBackend(runtime);
    }

    /// <summary>Static shared bytes of every kernel as ptxas reports them for sm_90 (NVRTC on the embedded sources).</summary>
    public static IReadOnlyDictionary<string, int> StaticSharedFromNvrtc() =>
        KernelSources.SourceFiles.SelectMany(f => KernelCompiler.CompileEmbedded(f, "sm_90").Functions.Where(u => u.IsEntry))
            .ToDictionary(u => u.Function, u => u.SharedBytes, StringComparer.Ordinal);

    private static string Dims(Dim3 d) => d.Z > 1 ? $"{d.X}x{d.Y}x{d.Z}" : d.Y > 1 ? $"{d.X}x{d.Y}" : $"{d.X}";
}
