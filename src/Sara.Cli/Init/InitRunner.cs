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
/// same span (NaN with several devices, where the workers overlap), the device, and the run's progress.
/// </summary>
internal sealed record LayerDone(LayerRank Layer, double Seconds, double ReadSeconds, double CpuSeconds, string Device, int Done, int Total,
    TimeSpan Elapsed, TimeSpan? Remaining);

/// <summary>The run's result: layers written, resumed and computed, trainable parameters, wall time, the plan.</summary>
internal sealed record InitOutcome(int Layers, int Resumed, int Computed, long TrainableParameters, TimeSpan Elapsed, RankPlan Plan);

/// <summary>
/// The streamed initialisation behind `sara init` (one truncated SVD per layer serves the rank and the factors,
/// RankPlanner.Factorize). Memory is bounded by a few matrices per device whatever the checkpoint's size: each worker
/// reads one matrix at a time with positioned reads, computes it, and writes the finished layer atomically to the work
/// folder (<see cref="WorkFolder"/>); the adapter is assembled from those files at the end, streamed, and written
/// atomically too. So an interrupted run leaves no adapter at the output path, and `--resume` skips the layers whose
/// files exist. Per-layer results depend only on the layer (seeded by its name), so resuming, `--part` + combine, and
/// several devices of one kind all give the same bits as one uninterrupted run.
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
        var mine = q.Part is { } part
            ? WorkAssignment.Split(settings.Layers.Select(l => l.Cost).ToList(), part.Count)[part.Index - 1]
            : Enumerable.Range(0, selected.Count).ToList();

        var work = WorkFolder(q.Output);
        var done = PrepareWorkFolder(work, q, settings, mine, info);
        var todo = mine.Where(i => !done.ContainsKey(i)).ToList();
        long totalCost = todo.Sum(i => settings.Layers[i].Cost), doneCost = 0;
        var finished = done.Count;
        var gate = new object();

        void Worker(Backend backend, List<int> share, CancellationToken token)
        {
            float[]? staging = null;
            foreach (var index in share)
            {
                token.ThrowIfCancellationRequested();
                var matrix = selected[index];
                var layer = settings.Layers[index];
                var read = Stopwatch.StartNew();
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var length = (long)layer.Rows * layer.Cols;
                if (staging is null || staging.LongLength < length) staging = new float[share.Max(i => (long)settings.Layers[i].Rows * settings.Layers[i].Cols)];
                var span = staging.AsSpan(0, checked((int)length));
                matrix.Load(span);
                var readSeconds = read.Elapsed.TotalSeconds;
                var result = Compute(backend, layer.Name, span, layer.Rows, layer.Cols, q);
                var path = Path.Combine(work, LayerResultFile.NameFor(index));
                LayerResultFile.Write(path, fingerprint, index, result.Plan, result.Tensors);
                var seconds = read.Elapsed.TotalSeconds;
                var cpuSeconds = backends.Count == 1 ? (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds : double.NaN;
                lock (gate)
                {
                    done[index] = new LayerResultFile(path, layer.Name, index, result.Plan.K, layer.Rows, layer.Cols, result.Plan);
                    doneCost += layer.Cost;
                    finished++;
                    var elapsed = clock.Elapsed;
                    TimeSpan? remaining = doneCost > 0 ? elapsed * ((double)(totalCost - doneCost) / doneCost) : null;
                    layerDone(new LayerDone(result.Plan, seconds, readSeconds, cpuSeconds, backend.Name, finished, mine.Count, elapsed, remaining));
                }
            }
        }

        RunWorkers(backends, WorkAssignment.Split(todo.Select(i => settings.Layers[i].Cost).ToList(), backends.Count)
            .Select(share => share.Select(j => todo[j]).ToList()).ToList(), Worker, cancel);

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
        return new InitOutcome(files.Count, files.Count - todo.Count, todo.Count,
            files.Sum(f => ParametersOf(q.Method, q.Experts, f.K, f.M, f.N)), clock.Elapsed, plan);
    }

    private sealed record LayerResult(LayerRank Plan, Dictionary<string, float[]> Tensors);

    /// <summary>One layer on one device: upload, one Krylov SVD for rank and factors, the adapter tensors.</summary>
    private static LayerResult Compute(Backend backend, string name, ReadOnlySpan<float> data, int rows, int cols, InitRequest q)
    {
        using var w = backend.FromArray(data, rows, cols);
        using var f = RankPlanner.Factorize(backend, name, w, q.Rank);
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
                throw new UserErrorException($"'{work}' holds an interrupted run: pass --resume to continue it, or delete the folder to start over");
            foreach (var stale in Directory.EnumerateFiles(work, "*.tmp", SearchOption.TopDirectoryOnly)) File.Delete(stale);
            foreach (var stale in Directory.EnumerateFiles(work, ".*.tmp", SearchOption.TopDirectoryOnly)) File.Delete(stale);
            var fingerprint = settings.Fingerprint;
            foreach (var i in mine)
            {
                var path = Path.Combine(work, LayerResultFile.NameFor(i));
                if (File.Exists(path) && LayerResultFile.TryRead(path, fingerprint, i, settings.Layers[i].Name) is { } f) done[i] = f;
            }
            var foreign = Directory.EnumerateFiles(work, "layer-*.safetensors").Count() - done.Count;
            info($"resuming: {done.Count} of {mine.Count} layers already done in {work}" +
                 (foreign > 0 ? $" ({foreign} files from other settings are ignored and overwritten)" : ""));
        }
        else
        {
            Directory.CreateDirectory(Path.GetDirectoryName(work)!);
            Directory.CreateDirectory(work);
            if (q.Resume) info($"nothing to resume in {work}: starting");
        }
        return done;
    }

    /// <summary>One thread per device; the first failure (or the caller's cancellation) stops the others between layers.</summary>
    private static void RunWorkers(IReadOnlyList<Backend> backends, List<List<int>> shares,
        Action<Backend, List<int>, CancellationToken> worker, CancellationToken cancel)
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
