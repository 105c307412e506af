namespace Sara.Native.Runtime;

/// <summary>What a census entry records: a kernel launch, a library call (cuBLAS / cuSOLVER, or their host stand-ins), or a copy.</summary>
public enum CensusKind
{
    Kernel,
    Library,
    Copy,
}

/// <summary>
/// One call seen by a <see cref="CensusRuntime"/>. Kernels: grid, block, dynamic shared bytes and the argument values
/// (a struct argument's bytes are copied). Library calls and copies: <see cref="Detail"/> names the shape, and
/// <see cref="Flops"/> / <see cref="Bytes"/> are set when recorded; a kernel's are modelled from its arguments
/// (Backends.KernelCosts). <see cref="Milliseconds"/> is set when the census times each call (GPU check).
/// </summary>
public sealed record CensusEntry(int Index, string Phase, CensusKind Kind, string Name, Dim3 Grid, Dim3 Block,
    uint DynamicSharedBytes, IReadOnlyList<KernelArg> Args, IReadOnlyList<byte[]?> StructBytes, string Detail,
    double Flops, double Bytes)
{
    public long Blocks => (long)Grid.X * Grid.Y * Grid.Z;
    public long ThreadsPerBlock => (long)Block.X * Block.Y * Block.Z;
    public double? Milliseconds { get; internal set; }
}

/// <summary>
/// The calls made through a <see cref="CensusRuntime"/>, in order. <see cref="Phase"/> labels the entries recorded
/// from now on (e.g. "forward", "backward", "adamw"), so one census can be read per step phase.
/// </summary>
public sealed class LaunchCensus
{
    private readonly List<CensusEntry> _entries = [];
    private readonly object _gate = new();

    public string Phase { get; set; } = "";

    public IReadOnlyList<CensusEntry> Entries
    {
        get { lock (_gate) return _entries.ToArray(); }
    }

    public IEnumerable<CensusEntry> Kernels => Entries.Where(e => e.Kind == CensusKind.Kernel);

    public void Clear()
    {
        lock (_gate) _entries.Clear();
    }

    internal CensusEntry Add(CensusKind kind, string name, Dim3 grid, Dim3 block, uint dynamicShared, KernelArg[] args,
        byte[]?[] structs, string detail, double flops, double bytes)
    {
        lock (_gate)
        {
            var e = new CensusEntry(_entries.Count, Phase, kind, name, grid, block, dynamicShared, args, structs, detail, flops, bytes);
            _entries.Add(e);
            return e;
        }
    }
}
