using System.Diagnostics;
using Sara.Native.Backends;
using Sara.Native.IO;
using Sara.Native.Svd;
using Sara.Native.Tensors;

namespace Sara.Cli.Init;

/// <summary>What `sara init` was asked to do.</summary>
internal sealed record InitRequest(string Checkpoint, string Output, RankOptions Rank, AdapterMethod Method, int Experts,
    WeightFilter Filter, ModuleTargets Targets, (int Index, int Count)? Part, bool Resume, string PlanPath);

/// <summary>
/// A finished layer, for progress output: its plan entry, the layer's wall seconds from the first byte read to its file
/// written (of which ReadSeconds reading and converting the checkpoint's tensor), the process's CPU seconds over the
/// same span (NaN with several devices, where the workers overlap), the device, the run's progress, and how many layers
/// shared its batched SVD (the seconds are then the batch's divided by that).
/// </summary>
internal sealed record LayerDone(LayerRank Layer, double Seconds, double ReadSeconds, double CpuSeconds, string Device, int Done, int Total,
    TimeSpan Elapsed, TimeSpan? Remaining, int Batch = 1);

/// <summary>The run's result: layers written, resumed and computed, trainable parameters, wall time, the plan.</summary>
internal sealed record InitOutcome(int Layers, int Resumed, int Computed, long TrainableParameters, TimeSpan Elapsed, RankPlan Plan);

/// <summary>
/// The streamed initialisation behind `sara init` (one truncated SVD per layer serves the rank and the factors,
/// RankPlanner.FactorizeBatch). The unit of work is a group of up to <see cref="GroupSize"/> consecutive layers of one
/// shape, fixed by the layer list alone: a GPU (CudaBackend) takes a group in one batched SVD, the CPU layer by layer.
/// Memory is bounded by a group of matrices per device whatever the checkpoint's size: each worker reads one matrix at
/// a time with positioned reads into one staging buffer, and writes each finished layer atomically to the work folder
/// (<see cref="WorkFolder"/>); the adapter is assembled from those files at the end, streamed, and written atomically
/// too. So an interrupted run leaves no adapter at the output path, and `--resume` skips what is done (a batch redoes a
/// group with a missing layer). Results depend only on the layer (seeded by its name) and, on a GPU, on its fixed group,
/// so resuming, `--part` + combine, and several devices of one kind all give the same bits as one uninterrupted run.
/// </summary>
internal static class InitRunner
{
    public static string WorkFolder(string output) => Path.GetFullPath(output) + ".work";

    /// <summary>The matrices <paramref name="targets"/> selects, and why each other one was skipped.</summary>
    public static (List<WeightMatrix> Selected, List<SkippedWeight> Skipped) Select(WeightSource source, ModuleTargets targets)
    {
        var selected = new List<WeightMatrix>();
        var skipped = new List<SkippedWeight>(source.Skipped);
        var modules = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in source.Matrices)
        {
            var reason = targets.SkipReason(m);
            if (reason is not null) skipped.Add(new SkippedWeight(m.Name, m.StoredShape, reason));
            else if (!modules.Add(m.Module))
                throw new InvalidDataException($"two weights belong to module '{m.Module}' (the second is '{m.StoredName}'): select one with --exclude");
            else selected.Add(m);
        }
        return (selected, skipped);
    }

    public static InitSettings Settings(InitRequest q, IReadOnlyList<WeightMatrix> selected) =>
        new(Path.GetFileName(q.Checkpoint), selected.Select(m => new InitLayer(m.Module, m.StoredName, m.Rows, m.Cols)).ToList(),
            q.Method, q.Experts, q.Rank, $"{q.Targets}; include {string.Join(',', q.Filter.Include)}; exclude {string.Join(',', q.Filter.Exclude)}");

    public static InitOutcome Run(InitRequest q, IReadOnlyList<WeightMatrix> selected, IReadOnlyList<Backend> backends,
        Action<string> info, Action<LayerDone> layerDone, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        var settings = Settings(q, selected);
        var fingerprint = settings.Fingerprint;
        // The unit of work is a group of up to GroupSize consecutive layers of one shape (q/k/v/o), defined by the layer
        // list alone, so parts, devices and resumed runs all cut the model at the same places.
        var groups = Groups(settings.Layers);
        var myGroups = q.Part is { } part
            ? WorkAssignment.Split(groups.Select(g => g.Sum(i => settings.Layers[i].Cost)).ToList(), part.Count)[part.Index - 1].Select(g => groups[g]).ToList()
            : groups;
        var mine = myGroups.SelectMany(g => g).Order().ToList();

        var work = WorkFolder(q.Output);
        var done = PrepareWorkFolder(work, q, settings, mine, info);
        var todoGroups = myGroups.Where(g => g.Any(i => !done.ContainsKey(i))).ToList();
        var todo = todoGroups.SelectMany(g => g).ToList();
        long totalCost = todo.Sum(i => settings.Layers[i].Cost), doneCost = 0;
        var finished = mine.Count - todo.Count;
        var computed = 0;
        var gate = new object();

        void Worker(Backend backend, List<List<int>> share, CancellationToken token)
        {
            float[]? staging = null;
            // A GPU (or the emulator, which runs the same code) takes a group in one batched SVD; the CPU layer by layer.
            var batched = backend is CudaBackend;
            foreach (var group in share)
            {
                // The CPU skips a resumed group's finished layers; a batch recomputes them (same bits on the same device).
                foreach (var batch in batched ? [group] : group.Where(i => !done.ContainsKey(i)).Select(i => new List<int> { i }))
                {
                    token.ThrowIfCancellationRequested();
                    var first = settings.Layers[batch[0]];
                    var clock0 = Stopwatch.StartNew();
                    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                    var length = (long)first.Rows * first.Cols;
                    staging ??= new float[share.SelectMany(g => g).Max(i => (long)settings.Layers[i].Rows * settings.Layers[i].Cols)];
                    using var stacked = backend.Empty(batch.Count * first.Rows, first.Cols);
                    for (var b = 0; b < batch.Count; b++)
                    {
                        var span = staging.AsSpan(0, checked((int)length));
                        selected[batch[b]].Load(span);
                        backend.Upload(new RowBlock(stacked, b * first.Rows, first.Rows), span);
                    }
                    var readSeconds = clock0.Elapsed.TotalSeconds / batch.Count;
                    var results = Compute(backend, batch.Select(i => settings.Layers[i].Name).ToList(), stacked, q);
                    for (var b = 0; b < batch.Count; b++)
                    {
                        var index = batch[b];
                        var path = Path.Combine(work, LayerResultFile.NameFor(index));
                        LayerResultFile.Write(path, fingerprint, index, results[b].Plan, results[b].Tensors);
                    }
                    var seconds = clock0.Elapsed.TotalSeconds / batch.Count;
                    var cpuSeconds = backends.Count == 1 ? (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds / batch.Count : double.NaN;
                    lock (gate)
                        for (var b = 0; b < batch.Count; b++)
                        {
                            var index = batch[b];
                            var layer = settings.Layers[index];
                            var result = results[b];
                            done[index] = new LayerResultFile(Path.Combine(work, LayerResultFile.NameFor(index)), layer.Name, index,
                                result.Plan.K, layer.Rows, layer.Cols, result.Plan);
                            doneCost += layer.Cost;
                            computed++;
                            finished = mine.Count(i => done.ContainsKey(i));
                            var elapsed = clock.Elapsed;
                            TimeSpan? remaining = doneCost > 0 ? elapsed * ((double)(totalCost - doneCost) / doneCost) : null;
                            layerDone(new LayerDone(result.Plan, seconds, readSeconds, cpuSeconds, backend.Name, finished, mine.Count, elapsed, remaining,
                                batch.Count));
                        }
                    // The batch's factor arrays are large-object garbage now. Left to itself the GC let them pile up (on a
                    // 4-block 7B-shaped checkpoint anonymous RSS grew ~13 MB a layer to a 1.09 GB peak, flat at 0.69 GB with
                    // the managed heap capped), which would pass the 3 GB budget near 32 blocks; one full collection per batch
                    // costs milliseconds against seconds of SVD.
                    results.Clear();
                    GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
                }
            }
        }

        RunWorkers(backends, WorkAssignment.Split(todoGroups.Select(g => g.Sum(i => settings.Layers[i].Cost)).ToList(), backends.Count)
            .Select(share => share.Select(j => todoGroups[j]).ToList()).ToList(), Worker, cancel);

        var files = mine.Select(i => done[i]).ToList();
        var plan = new RankPlan(files.Select(f => f.Plan), q.Rank);
        var extra = new Dictionary<string, string>(StringComparer.Ordinal) { [SettingsKey] = settings.ToJson() };
        if (q.Part is { } p)
        {
            extra[PartKey] = $"{p.Index}/{p.Count}";
            extra[PlanKey] = plan.ToJson();
        }
        var byName = files.ToDictionary(f => f.Layer, StringComparer.Ordinal);
        Assemble(q.Output, settings.AdapterMetadata, files.Select(f => (f.Layer, f.K, f.M, f.N)).ToList(),
            (layer, key) => byName[layer].Read(key), extra, cancel);
        WritePlan(q.PlanPath, plan);
        Directory.Delete(work, recursive: true);
        return new InitOutcome(files.Count, files.Count - computed, computed,
            files.Sum(f => ParametersOf(q.Method, q.Experts, f.K, f.M, f.N)), clock.Elapsed, plan);
    }

    /// <summary>Most layers of one shape that a device takes in one batched SVD.</summary>
    public const int GroupSize = 4;

    /// <summary>Runs of consecutive layers of one shape, cut every <see cref="GroupSize"/> layers from the run's start.</summary>
    public static List<List<int>> Groups(IReadOnlyList<InitLayer> layers)
    {
        var groups = new List<List<int>>();
        for (var i = 0; i < layers.Count; i++)
        {
            var last = groups.Count > 0 ? groups[^1] : null;
            if (last is not null && last.Count < GroupSize && layers[last[0]].Rows == layers[i].Rows && layers[last[0]].Cols == layers[i].Cols
                && last[^1] == i - 1)
                last.Add(i);
            else groups.Add([i]);
        }
        return groups;
    }

    private sealed record LayerResult(LayerRank Plan, Dictionary<string, float[]> Tensors);

    /// <summary>Layers of one shape stacked on one device: one (batched) Krylov SVD for ranks and factors, the adapter tensors.</summary>
    private static List<LayerResult> Compute(Backend backend, List<string> names, Tensor stacked, InitRequest q)
    {
        var factors = RankPlanner.FactorizeBatch(backend, names, stacked, q.Rank);
        try
        {
            return factors.Select(f =>
            {
                var k = f.Rank.K;
                var tensors = new Dictionary<string, float[]>(StringComparer.Ordinal);
                if (q.Method == AdapterMethod.Sara) tensors["lambda"] = new float[k];
                else
                {
                    tensors["Lambda"] = new float[(long)q.Experts * k];
                    tensors["Wg"] = SeededGaussian.Normal((long)q.Experts * k, InitSettings.Router.RouterInitStd, InitSettings.Router.RouterSeed);
                    tensors["bg"] = new float[q.Experts];
                }
                tensors["A"] = f.A.ToArray();
                tensors["B"] = f.B.ToArray();
                return new LayerResult(f.Rank, tensors);
            }).ToList();
        }
        finally
        {
            foreach (var f in factors) f.Dispose();
        }
    }

    /// <summary>Metadata keys of the adapter beside its own: the settings (every output), the part and its plan (part files).</summary>
    public const string SettingsKey = "sara_init", PartKey = "sara_init_part", PlanKey = "sara_init_plan";

    /// <summary>Trainable parameters of one adapted layer: SARA k(m + n) + k; Mo-SARA 2Ek + E (A, B frozen).</summary>
    public static long ParametersOf(AdapterMethod method, int experts, int k, int m, int n) =>
        method == AdapterMethod.Sara ? (long)k * (m + n) + k : 2L * experts * k + experts;

    /// <summary>
    /// Creates the work folder, or (with --resume) reads which of <paramref name="mine"/> are finished there. Without
    /// --resume an existing folder is an error: it holds an interrupted run's work.
    /// </summary>
    private static Dictionary<int, LayerResultFile> PrepareWorkFolder(string work, InitRequest q, InitSettings settings,
        List<int> mine, Action<string> info)
    {
        var done = new Dictionary<int, LayerResultFile>();
        if (Directory.Exists(work))
        {
            if (!q.Resume)
                throw new UserErrorException($"'{SafeText.Line(work)}' holds an interrupted run: pass --resume to continue it, or delete the folder to start over");
            // Temporary files of the interrupted run's writes (this folder is the run's own).
            foreach (var stale in Directory.EnumerateFiles(work, "*" + AtomicFile.TempSuffix, SearchOption.TopDirectoryOnly)) File.Delete(stale);
            var fingerprint = settings.Fingerprint;
            foreach (var i in mine)
            {
                var path = Path.Combine(work, LayerResultFile.NameFor(i));
                if (File.Exists(path) && LayerResultFile.TryRead(path, fingerprint, i, settings.Layers[i].Name) is { } f) done[i] = f;
            }
            var foreign = Directory.EnumerateFiles(work, "layer-*.safetensors").Count() - done.Count;
            info($"resuming: {done.Count} of {mine.Count} layers already done in {SafeText.Line(work)}" +
                 (foreign > 0 ? $" ({foreign} files from other settings are ignored and overwritten)" : ""));
        }
        else
        {
            Directory.CreateDirectory(Path.GetDirectoryName(work)!);
            Directory.CreateDirectory(work);
            if (q.Resume) info($"nothing to resume in {SafeText.Line(work)}: starting");
        }
        return done;
    }

    /// <summary>One thread per device; the first failure (or the caller's cancellation) stops the others between layers.</summary>
    private static void RunWorkers(IReadOnlyList<Backend> backends, List<List<List<int>>> shares,
        Action<Backend, List<List<int>>, CancellationToken> worker, CancellationToken cancel)
    {
        if (backends.Count == 1)
        {
            worker(backends[0], shares[0], cancel);
            return;
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var errors = new Exception?[backends.Count];
        var threads = backends.Select((b, i) => new Thread(() =>
        {
            try
            {
                worker(b, shares[i], stop.Token);
            }
            catch (Exception e)
            {
                errors[i] = e;
                stop.Cancel();
            }
        }) { IsBackground = true, Name = $"sara-init-{b.Name}-{i}" }).ToList();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        var real = errors.FirstOrDefault(e => e is not null and not OperationCanceledException);
        if (real is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(real).Throw();
        cancel.ThrowIfCancellationRequested();
        if (errors.FirstOrDefault(e => e is not null) is { } canceled) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(canceled).Throw();
    }

    /// <summary>
    /// The adapter (or part) from finished layers, streamed one tensor at a time, written atomically. The same function
    /// writes single runs, parts and combined parts, so equal inputs give equal bytes.
    /// </summary>
    public static void Assemble(string output, AdapterMetadata metadata, IReadOnlyList<(string Name, int K, int M, int N)> layers,
        Func<string, string, float[]> read, IReadOnlyDictionary<string, string> extraMetadata, CancellationToken cancel)
    {
        AdapterFile.Write(output, metadata, layers, (layer, key) =>
        {
            cancel.ThrowIfCancellationRequested();
            return read(layer, key);
        }, SafetensorsDType.F32, extraMetadata);
    }

    public static void WritePlan(string path, RankPlan plan) =>
        AtomicFile.Write(path, stream => stream.Write(System.Text.Encoding.UTF8.GetBytes(plan.ToJson())));
}
