using System.Diagnostics;

namespace Sara.Native.Runtime.HostKernels;

/// <summary>
/// The worker threads of the rank-k kernels. A call cuts its output into parts; the caller and the workers take parts
/// from a shared counter until none is left. Workers spin for <see cref="SpinMicroseconds"/> after a call before they
/// sleep: the adapter's products come in bursts (forward: X B^T then Z A^T; backward: G A, G^T Z, dH^T X, dH B), and on
/// this VM a sleeping thread took 0.1-1 ms to wake, often longer than the whole call, so the thread pool's workers
/// joined late or never (the caller ran 2/3 of the parts). A short spin keeps a burst on all cores and costs a
/// following OpenBLAS GEMM at most that spin on one core. One call at a time uses the workers; a concurrent caller runs
/// its parts itself. Parts are fixed by the shape, so results never depend on which thread ran them.
/// </summary>
internal static class KernelThreads
{
    public const int SpinMicroseconds = 150;

    private static readonly long SpinTicks = Stopwatch.Frequency * SpinMicroseconds / 1_000_000;
    private static readonly object Submit = new();
    private static readonly ManualResetEventSlim Wake = new(false);
    private static Job? _current;
    private static int _started;

    /// <summary>Runs body(0 .. parts-1) on the caller and up to threads - 1 workers; returns when all parts are done.</summary>
    public static void Run(int parts, int threads, Action<int> body)
    {
        if (parts == 1 || threads <= 1 || Environment.ProcessorCount == 1 || !Monitor.TryEnter(Submit))
        {
            for (var p = 0; p < parts; p++) body(p);
            return;
        }
        try
        {
            EnsureWorkers();
            var job = new Job(parts, Math.Min(threads, Environment.ProcessorCount) - 1, body);
            Volatile.Write(ref _current, job);
            Wake.Set();
            job.Work(asWorker: false);
            job.WaitDone();
            Volatile.Write(ref _current, null);
        }
        finally { Monitor.Exit(Submit); }
    }

    private static void EnsureWorkers()
    {
        if (Interlocked.Exchange(ref _started, 1) == 1) return;
        for (var i = 0; i < Environment.ProcessorCount - 1; i++)
            new Thread(WorkerLoop) { IsBackground = true, Name = $"sara-rank-k-{i}" }.Start();
    }

    private static void WorkerLoop()
    {
        Job? last = null;
        while (true)
        {
            var spinUntil = Stopwatch.GetTimestamp() + SpinTicks;
            Job? job;
            while ((job = Volatile.Read(ref _current)) is null || ReferenceEquals(job, last))
            {
                if (Stopwatch.GetTimestamp() < spinUntil) { Thread.SpinWait(20); continue; }
                Wake.Reset();
                job = Volatile.Read(ref _current);
                if (job is not null && !ReferenceEquals(job, last)) break;
                Wake.Wait();
                spinUntil = Stopwatch.GetTimestamp() + SpinTicks;
            }
            last = job;
            job.Work(asWorker: true);
        }
    }

    private sealed class Job(int parts, int workers, Action<int> body)
    {
        private int _next;
        private int _done;
        private int _workersIn;
        private Exception? _error;

        public void Work(bool asWorker)
        {
            if (asWorker && Interlocked.Increment(ref _workersIn) > workers) return;
            int p;
            while ((p = Interlocked.Increment(ref _next) - 1) < parts)
            {
                try { body(p); }
                catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
                Interlocked.Increment(ref _done);
            }
        }

        public void WaitDone()
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _done) < parts) spin.SpinOnce(sleep1Threshold: -1);
            if (_error is not null) throw new AggregateException("A rank-k kernel part failed.", _error);
        }
    }
}
