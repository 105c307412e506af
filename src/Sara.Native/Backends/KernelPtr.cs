using System.Runtime.InteropServices;
using Sara.Native.Runtime;
using Sara.Native.Tensors;

namespace Sara.Native.Backends;

/// <summary>
/// A device pointer argument of a typed launcher (<see cref="Kernels"/>). Only a tensor (null: a null pointer) converts to
/// it implicitly, so an int or a size passed where the kernel expects a pointer is a compile error; a raw pointer needs
/// <see cref="Raw"/>.
/// </summary>
internal readonly struct KernelPtr
{
    private readonly nint _value;

    private KernelPtr(nint value) => _value = value;

    public static KernelPtr Null => default;

    public static KernelPtr Raw(nint pointer) => new(pointer);

    public static implicit operator KernelPtr(Tensor? t) => new(t?.Ptr ?? 0);

    public KernelArg Arg => KernelArg.Ptr(_value);
}

/// <summary>
/// The sizes of one <c>sara_adamw_batch</c> launch (its buffers are pointer parameters), laid out as
/// <c>SaraAdamWSizes</c> in kernels/adamw.cu (112 bytes; the launch-surface tests compare the size with NVRTC's PTX).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct AdamWSizes
{
    /// <summary>SARA_ADAMW_BATCH: tensors per launch.</summary>
    public const int Capacity = 8;

    public fixed long N[Capacity];
    public fixed int FirstBlock[Capacity + 1];
    public int Count;
    public int Chunk;
}
