// Program.cs — Sara.DeviceCheck: on a real GPU, (1) every parity case the emulator tests run, (2) a timing table with
// CUDA events (median of many runs after warm-up, L2 flushed before each run), (3) every kernel of a SARA and a Mo-SARA
// training step at T = n = m = 4096, k = 16, 32, 64, timed launch by launch beside its H200 floor (the launch census of
// bench/README.md), then a short summary table last.
// Usage: Sara.DeviceCheck [--device N] [--fatbin-dir DIR] [--runs N] [--skip-timing] [--out FILE]
// Exit: 0 all parity passed; 1 a parity case failed; 2 bad arguments; 3 no CUDA device; 4 a GPU whose runtime cannot start.
using Sara.DeviceCheck;
using Sara.Native.Backends;
using Sara.Tests.DeviceCheck;

var ordinal = 0;
var runs = 30;
string? fatbinDir = null, outFile = null;
var timing = true;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--device" when i + 1 < args.Length: ordinal = int.Parse(args[++i]); break;
        case "--fatbin-dir" when i + 1 < args.Length: fatbinDir = args[++i]; break;
        case "--runs" when i + 1 < args.Length: runs = int.Parse(args[++i]); break;
        case "--out" when i + 1 < args.Length: outFile = args[++i]; break;
        case "--skip-timing": timing = false; break;
        default:
            Console.Error.WriteLine($"Unknown argument '{args[i]}'. Usage: Sara.DeviceCheck [--device N] [--fatbin-dir DIR] [--runs N] [--skip-timing] [--out FILE]");
            return 2;
    }
}

var clock = System.Diagnostics.Stopwatch.StartNew();
using var gpu = DeviceGate.Open(ordinal, Console.Error, out var gateExitCode);
if (gpu is null) return gateExitCode;
Console.WriteLine($"device: {gpu.Description}");
Console.WriteLine($"kernels: {KernelImages.Prepare(gpu.Device.Arch, fatbinDir)}");

using var backend = new CudaBackend(gpu);
var parity = ParityRun.Run(backend);
foreach (var note in gpu.KernelModuleNotes) Console.WriteLine($"  module {note}");

var summary = new List<string>();
if (timing)
{
    var table = new GpuTiming(backend, gpu, runs).Run();
    Console.WriteLine();
    Console.WriteLine(table.Full);
    summary.AddRange(table.Short);
    summary.AddRange(KernelCensusTiming.Run(gpu));
}

var lines = new List<string>
{
    "",
    $"== Sara.DeviceCheck summary ({clock.Elapsed.TotalSeconds:F0} s) — {gpu.Description}",
    $"parity: {parity.Passed}/{parity.Total} cases passed" + (parity.Failed.Count > 0 ? $"; FAILED: {string.Join("; ", parity.Failed.Take(10))}" : ""),
};
lines.AddRange(summary);
foreach (var l in lines) Console.WriteLine(l);
if (outFile is not null) File.WriteAllLines(outFile, lines);
return parity.Failed.Count == 0 ? 0 : 1;
