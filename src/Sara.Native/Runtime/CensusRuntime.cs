using System.Runtime.InteropServices;
using Sara.Native.Tensors;

namespace Sara.Native.Runtime;

/// <summary>
/// A kernel runtime that records every kernel launch (name, grid, block, dynamic shared bytes, arguments), every
/// library call (GEMM, solvers) and every copy of the runtime it wraps, into <see cref="Census"/>.
/// <list type="bullet">
/// <item><b>Dry run</b> (<c>dryRun: true</c>): launches are validated (the kernel exists in the embedded sources; grid,
/// block and shared memory within the limits of the emulator and the GPU) and recorded, but nothing executes: no
/// kernel, GEMM, solver or copy runs, and copies to the host return zeros. Allocations still go to the wrapped runtime
/// (untouched host memory on the emulator costs nothing), so a whole training step at LLM shapes (T = 4096,
/// n = m = 4096) is censused on a CPU in well under a second.</item>
/// <item><b>Timed</b> (<c>timer</c> given, e.g. the GPU's CUDA-event timer): every launch and library call runs inside the
/// timer and its milliseconds are recorded (bench/Sara.DeviceCheck: each kernel against its floor).</item>
/// </list>
/// Static shared memory is not visible here; it comes from ptxas's report of the same source (NVRTC).
/// </summary>
public sealed unsafe class CensusRuntime : IKernelRuntime
{
    private const uint MaxDynamicShared = 227u * 1024u;
    private static readonly Lazy<HashSet<string>> KnownKernels = new(() =>
        KernelSources.SourceFiles.SelectMany(f => KernelSources.EntryPoints(KernelSources.ReadText(f))).ToHashSet(StringComparer.Ordinal));

    private readonly Func<Action, double>? _timer;
    private readonly bool _ownsInner;

    /// <param name="inner">The runtime whose calls are recorded (and, unless <paramref name="dryRun"/>, made).</param>
    /// <param name="dryRun">Record and validate, execute nothing.</param>
    /// <param name="timer">Runs a call and returns its milliseconds (e.g. <see cref="GpuRuntime.TimeMilliseconds"/>).</param>
    /// <param name="ownsInner">Dispose <paramref name="inner"/> with this runtime.</param>
    public CensusRuntime(IKernelRuntime inner, bool dryRun, Func<Action, double>? timer = null, bool ownsInner = true)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (dryRun && timer is not null) throw new ArgumentException("A dry run executes nothing, so there is nothing to time.", nameof(timer));
        Inner = inner;
        DryRun = dryRun;
        _timer = timer;
        _ownsInner = ownsInner;
        Description = $"{inner.Description}, census{(dryRun ? " (dry run)" : timer is not null ? " (timed)" : "")}";
    }

    public IKernelRuntime Inner { get; }
    public bool DryRun { get; }
    public LaunchCensus Census { get; } = new();
    public string Description { get; }
    public bool IsEmulated => Inner.IsEmulated;

    /// <summary>The wrapped runtime's pool: allocations are real even in a dry run (untouched host memory on the emulator).</summary>
    public MemoryPool Pool => Inner.Pool;
    public nint Stream => Inner.Stream;
    public Exception? Fault => Inner.Fault;

    /// <summary>The wrapped runtime's counters: in a dry run nothing reaches it, so copies and waits stay where they were.</summary>
    public RuntimeCounters Counters => Inner.Counters;

    public nint AllocRaw(long bytes) => Inner.AllocRaw(bytes);
    public void FreeRaw(nint ptr) => Inner.FreeRaw(ptr);

    public void CopyToDevice(nint dst, ReadOnlySpan<byte> src)
    {
        Census.Add(CensusKind.Copy, "copy host to device", default, default, 0, [], [], $"{src.Length} B", 0, src.Length);
        if (!DryRun) Inner.CopyToDevice(dst, src);
    }

    public void CopyToHost(Span<byte> dst, nint src)
    {
        Census.Add(CensusKind.Copy, "copy device to host", default, default, 0, [], [], $"{dst.Length} B", 0, dst.Length);
        if (DryRun) dst.Clear();
        else Inner.CopyToHost(dst, src);
    }

    public void CopyDeviceToDevice(nint dst, nint src, long bytes)
    {
        Census.Add(CensusKind.Copy, "copy device to device", default, default, 0, [], [], $"{bytes} B", 0, 2.0 * bytes);
        if (!DryRun) Inner.CopyDeviceToDevice(dst, src, bytes);
    }

    public void Memset32(nint dst, uint value, long count)
    {
        Census.Add(CensusKind.Copy, "memset", default, default, 0, [], [], $"{4 * count} B", 0, 4.0 * count);
        if (!DryRun) Inner.Memset32(dst, value, count);
    }

    public void Memset16(nint dst, ushort value, long count)
    {
        Census.Add(CensusKind.Copy, "memset", default, default, 0, [], [], $"{2 * count} B", 0, 2.0 * count);
        if (!DryRun) Inner.Memset16(dst, value, count);
    }

    public void Launch(string kernel, Dim3 grid, Dim3 block, uint dynamicSharedBytes, ReadOnlySpan<KernelArg> args)
    {
        Validate(kernel, grid, block, dynamicSharedBytes);
        var structs = new byte[]?[args.Length];
        for (var i = 0; i < args.Length; i++)
            if (args[i].Kind == KernelArgKind.Struct) structs[i] = new ReadOnlySpan<byte>((void*)args[i].Bits, args[i].Size).ToArray();
        var entry = Census.Add(CensusKind.Kernel, kernel, grid, block, dynamicSharedBytes, args.ToArray(), structs, "", 0, 0);
        if (DryRun) return;
        if (_timer is null)
        {
            Inner.Launch(kernel, grid, block, dynamicSharedBytes, args);
            return;
        }
        var copy = args.ToArray();   // the timer's closure cannot capture the span
        entry.Milliseconds = _timer(() => Inner.Launch(kernel, grid, block, dynamicSharedBytes, copy));
    }

    public void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, nint b, int ldb,
        float beta, nint c, int ldc)
    {
        var bytes = 4.0 * ((double)m * k + (double)k * n + (double)m * n * (beta == 0f ? 1 : 2));
        Library("sgemm", $"m {m} n {n} k {k}{(transA ? " A^T" : "")}{(transB ? " B^T" : "")}{(beta == 0f ? "" : " +C")}",
            2.0 * m * n * k, bytes, () => Inner.Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
    }

    public void GemmStridedBatched(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, long strideA,
        nint b, int ldb, long strideB, float beta, nint c, int ldc, long strideC, int batch)
    {
        var bytes = 4.0 * batch * ((double)m * k + (double)k * n + (double)m * n * (beta == 0f ? 1 : 2));
        Library("sgemm_strided_batched", $"{batch} x m {m} n {n} k {k}{(transA ? " A^T" : "")}{(transB ? " B^T" : "")}{(beta == 0f ? "" : " +C")}",
            2.0 * batch * m * n * k, bytes,
            () => Inner.GemmStridedBatched(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch));
    }

    public void GemmEx(bool transA, bool transB, int m, int n, int k, float alpha, nint a, DType aType, int lda,
        nint b, DType bType, int ldb, float beta, nint c, DType cType, int ldc)
    {
        double ea = aType.Size(), eb = bType.Size(), ec = cType.Size();
        var bytes = ea * m * k + eb * (double)k * n + ec * m * n * (beta == 0f ? 1 : 2);
        Library("gemmex", $"{aType.Name()} x {bType.Name()} -> {cType.Name()} m {m} n {n} k {k}{(transA ? " A^T" : "")}{(transB ? " B^T" : "")}{(beta == 0f ? "" : " +C")}",
            2.0 * m * n * k, bytes,
            () => Inner.GemmEx(transA, transB, m, n, k, alpha, a, aType, lda, b, bType, ldb, beta, c, cType, ldc));
    }

    public bool AllowTf32
    {
        get => Inner.AllowTf32;
        set => Inner.AllowTf32 = value;
    }

    public void Gesvd(int m, int n, nint a, nint s, nint u, nint vt) =>
        Library("gesvd", $"{m} x {n}", 4.0 * m * n * Math.Min(m, n), 4.0 * m * n, () => Inner.Gesvd(m, n, a, s, u, vt));

    public void Potrf(int n, nint a) => Library("potrf", $"{n}", n * (double)n * n / 3, 4.0 * n * n, () => Inner.Potrf(n, a));

    public void Syevd(int n, nint a, nint w) => Library("syevd", $"{n}", 4.0 * n * n * n, 4.0 * n * n, () => Inner.Syevd(n, a, w));

    public void Dsyevd(int n, nint a, nint w) => Library("dsyevd", $"{n}", 4.0 * n * n * n, 8.0 * n * n, () => Inner.Dsyevd(n, a, w));

    public void Synchronize()
    {
        if (!DryRun) Inner.Synchronize();
    }

    public void Dispose()
    {
        if (_ownsInner) Inner.Dispose();
    }

    private void Library(string name, string detail, double flops, double bytes, Action call)
    {
        var entry = Census.Add(CensusKind.Library, name, default, default, 0, [], [], detail, flops, bytes);
        if (DryRun) return;
        if (_timer is null) call();
        else entry.Milliseconds = _timer(call);
    }

    /// <summary>The checks both real runtimes make, so a dry run rejects what a real launch would.</summary>
    private static void Validate(string kernel, Dim3 grid, Dim3 block, uint dynamicSharedBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(kernel);
        if (!KnownKernels.Value.Contains(kernel))
            throw new ArgumentException($"No kernel '{kernel}' in the embedded sources.", nameof(kernel));
        if (grid.X == 0 || grid.Y == 0 || grid.Z == 0 || grid.X > int.MaxValue || grid.Y > 65535 || grid.Z > 65535)
            throw new ArgumentOutOfRangeException(nameof(grid), grid, $"{kernel}: grid outside (1..2^31-1, 1..65535, 1..65535).");
        if (block.X == 0 || block.Y == 0 || block.Z == 0 || (ulong)block.X * block.Y * block.Z > 1024 || block.Z > 64)
            throw new ArgumentOutOfRangeException(nameof(block), block, $"{kernel}: block must have 1..1024 threads (z <= 64).");
        if (dynamicSharedBytes > MaxDynamicShared)
            throw new ArgumentOutOfRangeException(nameof(dynamicSharedBytes), dynamicSharedBytes, $"{kernel}: over 227 KiB of dynamic shared memory.");
    }

    /// <summary>A struct argument's bytes as <typeparamref name="T"/> (for cost models).</summary>
    public static T ReadStruct<T>(byte[] bytes) where T : unmanaged => MemoryMarshal.Read<T>(bytes);
}
