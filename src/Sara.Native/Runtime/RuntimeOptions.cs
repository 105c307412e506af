using Sara.Bindings;

namespace Sara.Native.Runtime;

/// <summary>
/// Where a kernel runtime does its work: which CUDA context and which stream. The default is the device's primary context
/// (retained and released by the runtime, the one the CUDA runtime API and libtorch use) and a stream of the runtime's own.
/// A context or stream given here is borrowed: the caller keeps it alive while the runtime lives, and the runtime never
/// destroys it. The emulated runtime accepts the same options and reports them; it runs every call in order on the
/// calling thread, so any stream is trivially honoured there.
/// </summary>
public sealed record RuntimeOptions
{
    /// <summary>The CUDA device ordinal of the primary context; leave 0 when <see cref="Context"/> or <see cref="UseCurrentContext"/> decides the device.</summary>
    public int Device { get; init; }

    /// <summary>A CUcontext to run on (borrowed), e.g. one an ILGPU accelerator created; 0 = not given.</summary>
    public nint Context { get; init; }

    /// <summary>Run on the context current on the creating thread (cuCtxGetCurrent), e.g. the one libtorch made current.</summary>
    public bool UseCurrentContext { get; init; }

    /// <summary>
    /// The CUstream every launch, copy, memset, cuBLAS and cuSOLVER call goes to (borrowed); null = a blocking stream the
    /// runtime creates and destroys. 0 or <see cref="LegacyStream"/> is the legacy default stream (what TorchSharp/libtorch
    /// use unless told otherwise), <see cref="PerThreadStream"/> the calling thread's per-thread default stream.
    /// </summary>
    public nint? Stream { get; init; }

    /// <summary>CU_STREAM_LEGACY.</summary>
    public const nint LegacyStream = Cuda.CU_STREAM_LEGACY;

    /// <summary>CU_STREAM_PER_THREAD.</summary>
    public const nint PerThreadStream = Cuda.CU_STREAM_PER_THREAD;

    /// <summary>The device's primary context and a stream of the runtime's own.</summary>
    public static RuntimeOptions Default { get; } = new();

    /// <summary>True when a context or stream is given: the caller has a GPU in mind, so "auto" must not fall back to the CPU.</summary>
    public bool NamesCudaObjects => Context != 0 || UseCurrentContext || Stream.HasValue;

    /// <summary>Throws ArgumentException for contradictory options.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(Device);
        if (Context != 0 && UseCurrentContext)
            throw new ArgumentException("Give either Context or UseCurrentContext, not both.");
        if (Device != 0 && (Context != 0 || UseCurrentContext))
            throw new ArgumentException($"Device {Device} was given with a context; the context decides the device.");
    }

    /// <summary>"own stream", "legacy default stream", "per-thread default stream" or "stream 0x...".</summary>
    public static string DescribeStream(nint? stream) => stream switch
    {
        null => "own stream",
        0 or Cuda.CU_STREAM_LEGACY => "legacy default stream",
        Cuda.CU_STREAM_PER_THREAD => "per-thread default stream",
        var s => $"caller's stream 0x{s.Value:x}",
    };

    /// <summary>"primary context", "current context" or "caller's context 0x...".</summary>
    public string DescribeContext() =>
        UseCurrentContext ? "current context" : Context != 0 ? $"caller's context 0x{Context:x}" : "primary context";
}
