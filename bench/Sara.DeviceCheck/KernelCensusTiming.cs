// KernelCensusTiming.cs — every kernel of a SARA (with bias) and a Mo-SARA training step at the LLM reference shapes
// (T = n = m = 4096, k = 16, 32, 64, E = 4), timed launch by launch with CUDA events and printed beside its H200 floor:
// the same steps, launches and floors as the census in bench/README.md, which the emulator tests record without a GPU.
// Each launch runs alone between its two events, after a warm-up step (module loads, memory pool): a time includes the
// launch's own latency (a few us), which is what the smallest kernels of a step cost on a GPU anyway.
using System.Globalization;
using Sara.Native.Backends;
using Sara.Native.Runtime;
using Sara.Tests.Census;

namespace Sara.DeviceCheck;

public static class KernelCensusTiming
{
    /// <summary>Prints one table per step and returns the summary lines (kernel time vs kernel floor per step).</summary>
    public static List<string> Run(GpuRuntime gpu)
    {
        var summary = new List<string> { $"{"step (each kernel timed alone)",-34} {"kernels us",11} {"floor us",9} {"floor%",7}  slowest vs its floor" };
        Dictionary<string, int>? staticShared = null;
        foreach (var layer in new[] { CensusLayer.SaraWithBias, CensusLayer.MoSara })
            foreach (var shape in CensusSteps.Reference)
            {
                var runtime = new CensusRuntime(gpu, dryRun: false, timer: work => gpu.TimeMilliseconds(work), ownsInner: false);
                using var backend = new CudaBackend(runtime);
                CensusSteps.Step(backend, runtime.Census, layer, shape);   // warm-up: modules, pool
                var step = CensusSteps.Step(backend, runtime.Census, layer, shape);
                staticShared ??= step.Where(e => e.Kind == CensusKind.Kernel).Select(e => e.Name).Distinct()
                    .ToDictionary(n => n, n => gpu.KernelAttribute(n, Sara.Bindings.CUfunction_attribute.SharedSizeBytes));
                foreach (var n in step.Where(e => e.Kind == CensusKind.Kernel).Select(e => e.Name).Where(n => !staticShared.ContainsKey(n)).Distinct().ToList())
                    staticShared[n] = gpu.KernelAttribute(n, Sara.Bindings.CUfunction_attribute.SharedSizeBytes);
                Console.WriteLine();
                Console.WriteLine($"kernel census, {layer}, {shape} (each launch timed alone with CUDA events):");
                Console.WriteLine(CensusReport.Table(step, staticShared));

                var kernels = step.Where(e => e.Kind == CensusKind.Kernel && e.Milliseconds is not null).ToList();
                double Floor(CensusEntry e) => KernelCosts.H200Floor(e) * 1e6;
                var measured = kernels.Sum(e => e.Milliseconds!.Value * 1e3);
                var floor = kernels.Sum(Floor);
                var worst = kernels.MaxBy(e => e.Milliseconds!.Value * 1e3 - Floor(e));
                var slowest = worst is null ? "" : string.Create(CultureInfo.InvariantCulture, $"{worst.Name} {worst.Milliseconds!.Value * 1e3:F1} us vs {Floor(worst):F1}");
                summary.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{$"{layer} k{shape.K}",-34} {measured,11:F1} {floor,9:F1} {floor / measured * 100,6:F0}%  {slowest}"));
            }
        return summary;
    }
}
