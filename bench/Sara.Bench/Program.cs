// Program.cs — runs the suite with a short in-process BenchmarkDotNet job and writes the ratio table to --results.
// Usage: dotnet run --project bench/Sara.Bench -c Release -- --results bench/results [--iterations N] [--rounds N] [--clock wall|cpu]
//        [--only layers,svd,adamw,machine]   (--clock cpu: paired ratios of process CPU time, for a loaded machine; see PairedRatios)
//        dotnet run --project bench/Sara.Bench -c Release -- make-checkpoint --blocks N --out DIR   (7B-shaped bf16 checkpoint for bench/init-7b.sh)
//        dotnet run --project bench/Sara.Bench -c Release -- krylov-accuracy [--with-11008] [--seeds 2]   (bench/results/krylov-accuracy-<device>.md)
//        dotnet run --project bench/Sara.Bench -c Release -- init-timing [--rounds 3] [--no-exact]   (bench/results/init-timing-<device>.md: per matrix, paired with the exact plan and a 4096^3 sgemm)
// Device: SARA_DEVICE=cpu|emu|cuda (default: the GPU when present, else cpu).
// Or: dotnet run --project bench/Sara.Bench -c Release -- --census [--write bench/README.md]: the launch census of a SARA and
// Mo-SARA training step at T = n = m = 4096, k = 16, 32, 64 (dry runs on the emulator), as bench/README.md shows it.
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Sara.Bench;

if (args.Length > 0 && args[0] == "make-checkpoint") return Sara.Bench.Init.SyntheticCheckpoint.Run(args[1..]);
if (args.Length > 0 && args[0] == "summarize-init") return Sara.Bench.Init.InitSummary.Run(args[1..]);
if (args.Length > 0 && args[0] == "krylov-accuracy") return Sara.Bench.Init.KrylovAccuracy.Run(args[1..]);
if (args.Length > 0 && args[0] == "init-timing") return Sara.Bench.Init.InitTiming.Run(args[1..]);
if (args.Length > 0 && args[0] == "--census")
{
    var section = Sara.Tests.Census.CensusReport.ReadmeSection(Sara.Tests.Census.CensusReport.StaticSharedFromNvrtc());
    if (args.Length == 3 && args[1] == "--write")
    {
        var text = File.ReadAllText(args[2]);
        int begin = text.IndexOf(Sara.Tests.Census.CensusReport.ReadmeBegin, StringComparison.Ordinal),
            end = text.IndexOf(Sara.Tests.Census.CensusReport.ReadmeEnd, StringComparison.Ordinal);
        if (begin < 0 || end < begin)
        {
            Console.Error.WriteLine($"{args[2]} has no census section ({Sara.Tests.Census.CensusReport.ReadmeBegin} ... {Sara.Tests.Census.CensusReport.ReadmeEnd}).");
            return 2;
        }
        File.WriteAllText(args[2], text[..begin] + section + text[(end + Sara.Tests.Census.CensusReport.ReadmeEnd.Length + Environment.NewLine.Length)..]);
        Console.WriteLine($"census written to {args[2]}");
    }
    else Console.Write(section);
    return 0;
}

var results = "bench/results";
var iterations = 15;
var pairedRounds = 25;
var cpuClock = false;
var only = new HashSet<string>(["machine", "layers", "svd", "adamw"]);
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--results" when i + 1 < args.Length: results = args[++i]; break;
        case "--iterations" when i + 1 < args.Length: iterations = int.Parse(args[++i]); break;
        case "--rounds" when i + 1 < args.Length: pairedRounds = int.Parse(args[++i]); break;
        case "--clock" when i + 1 < args.Length && args[i + 1] is "wall" or "cpu": cpuClock = args[++i] == "cpu"; break;
        case "--only" when i + 1 < args.Length: only = [.. args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries)]; break;
        default:
            Console.Error.WriteLine($"Unknown argument '{args[i]}'. Usage: --results DIR [--iterations N] [--rounds N] [--clock wall|cpu] [--only machine,layers,svd,adamw]");
            return 2;
    }
}

var job = Job.Default
    // BenchmarkDotNet's in-process default gives up on a case after 5 minutes; on a loaded 2-core machine the exact SVD
    // (n = 2048, 17 runs) takes longer than that, so the limit is an hour.
    .WithToolchain(new InProcessEmitToolchain(TimeSpan.FromHours(1), logOutput: true))
    .WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(iterations)
    .WithInvocationCount(1).WithUnrollFactor(1)
    .WithId("Short");
var jobText = $"in-process (InProcessEmitToolchain), 1 launch, 2 warm-up + {iterations} measured iterations of 1 invocation each; median reported";
var config = ManualConfig.CreateMinimumViable()
    .AddJob(job)
    .WithArtifactsPath(Path.GetFullPath(Path.Combine("artifacts", "bench")))
    .WithOptions(ConfigOptions.DisableLogFile);

var types = new List<Type>();
if (only.Contains("machine")) types.Add(typeof(MachineBenchmarks));
if (only.Contains("layers")) types.Add(typeof(LayerBenchmarks));
if (only.Contains("svd")) { types.Add(typeof(TruncatedSvdBenchmarks)); types.Add(typeof(ExactSvdBenchmarks)); }
if (only.Contains("adamw")) types.Add(typeof(AdamWBenchmarks));

static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
var loadStart = Load();
var clock = System.Diagnostics.Stopwatch.StartNew();
var summaries = BenchmarkRunner.Run(types.ToArray(), config);
var medians = Medians.From(summaries);
using (var backend = Shapes.CreateBackend())
{
    var accuracy = only.Contains("svd") ? SvdAccuracy.Measure(backend) : [];
    Console.WriteLine($"Paired ratios: {pairedRounds} interleaved rounds, {(cpuClock ? "process CPU time" : "wall clock")}");
    var paired = PairedRatios.Measure(pairedRounds, only.Contains("layers"), only.Contains("svd"), cpuClock);
    var report = new ResultsReport(backend, medians, accuracy, jobText, clock.Elapsed, $"{loadStart} / {Load()}", paired);
    Directory.CreateDirectory(results);
    var path = Path.Combine(results, $"{backend.Name}.md");
    File.WriteAllText(path, report.Markdown());
    Console.WriteLine($"Results: {Path.GetFullPath(path)}");
    Console.WriteLine(report.TargetsText());
}
return 0;
