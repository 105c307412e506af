using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Sara.Native.Backends;
using Sara.Native.Runtime;
using Sara.Native.Tensors;

namespace Sara.Native.Interop;

/// <summary>
/// DLPack exchange (dmlc/dlpack): dense row-major 1-D / 2-D tensors of f32, bf16 or f16, on kDLCPU (and kDLCUDAHost)
/// for the cpu and emu backends and kDLCUDA for the cuda backend.
/// <para><b>Import</b> takes over the producer's managed tensor: the result is an external tensor over the producer's
/// memory (no copy), and the producer's deleter runs exactly once — when the tensor is disposed (or its
/// <see cref="TensorScope"/> ends), or at once when the import is refused (the exception says why).</para>
/// <para><b>Export</b> hands out a managed tensor over a tensor's memory (no copy). The consumer must call its deleter
/// exactly once; until then the memory stays valid even if the tensor is disposed (a pooled block goes back to the
/// pool only after both). Call the deleter before disposing the backend.</para>
/// <para>Neither side synchronises streams: on the GPU, order the producer's and the consumer's streams yourself (e.g.
/// both on one stream, <see cref="RuntimeOptions.Stream"/>).</para>
/// </summary>
public static unsafe class DLPack
{
    /// <summary>DLPACK_MAJOR_VERSION this library reads and writes.</summary>
    public const uint MajorVersion = 1;

    /// <summary>DLPACK_MINOR_VERSION written on export.</summary>
    public const uint MinorVersion = 0;

    /// <summary>Imports a <see cref="DLManagedTensorVersioned"/>* (ownership passes to the library; see the class remarks).</summary>
    public static Tensor FromDLPackVersioned(Backend backend, nint managed)
    {
        if (managed == 0) throw new ArgumentNullException(nameof(managed), "FromDLPackVersioned: null DLManagedTensorVersioned pointer.");
        var m = (DLManagedTensorVersioned*)managed;
        try
        {
            ArgumentNullException.ThrowIfNull(backend);
            if (m->Version.Major != MajorVersion)
                throw new NotSupportedException($"DLPack: managed tensor of ABI version {m->Version.Major}.{m->Version.Minor}; this library reads {MajorVersion}.x.");
            if ((m->Flags & DLManagedTensorVersioned.FlagReadOnly) != 0)
                throw new NotSupportedException("DLPack: the producer marked the tensor read-only; this library's tensors are writable, so it is refused.");
            return Import(backend, &m->DLTensor, () => DeleteVersioned(managed));
        }
        catch
        {
            DeleteVersioned(managed);
            throw;
        }
    }

    /// <summary>Imports a legacy <see cref="DLManagedTensor"/>* (ownership passes to the library; see the class remarks).</summary>
    public static Tensor FromDLPack(Backend backend, nint managed)
    {
        if (managed == 0) throw new ArgumentNullException(nameof(managed), "FromDLPack: null DLManagedTensor pointer.");
        var m = (DLManagedTensor*)managed;
        try
        {
            ArgumentNullException.ThrowIfNull(backend);
            return Import(backend, &m->DLTensor, () => DeleteLegacy(managed));
        }
        catch
        {
            DeleteLegacy(managed);
            throw;
        }
    }

    private static void DeleteVersioned(nint managed)
    {
        var m = (DLManagedTensorVersioned*)managed;
        if (m->Deleter != null) m->Deleter(m);
    }

    private static void DeleteLegacy(nint managed)
    {
        var m = (DLManagedTensor*)managed;
        if (m->Deleter != null) m->Deleter(m);
    }

    private static Tensor Import(Backend backend, DLTensor* t, Action onRelease)
    {
        CheckDevice(backend, t->Device);
        var dtype = ToDType(t->DType);
        if (t->NDim is < 1 or > 2) throw new NotSupportedException($"DLPack: {t->NDim}-D tensor; this library takes 1-D and 2-D tensors.");
        if (t->NDim > 0 && t->Shape == null) throw new ArgumentException("DLPack: null shape array.");
        var shape = new int[t->NDim];
        for (var i = 0; i < shape.Length; i++)
        {
            var d = t->Shape[i];
            if (d is < 0 or > int.MaxValue) throw new ArgumentException($"DLPack: dimension {i} is {d}; expected 0 .. {int.MaxValue}.");
            shape[i] = (int)d;
        }
        var rowStride = RowStride(t, shape);
        var pointer = checked(t->Data + (nint)t->ByteOffset);
        return backend.FromExternal(pointer, dtype, shape, rowStride, owner: null, onRelease);
    }

    /// <summary>-1 for compact rows; a 2-D row stride otherwise (FromExternal refuses padded rows). Element strides must be 1.</summary>
    private static long RowStride(DLTensor* t, int[] shape)
    {
        if (t->Strides == null) return -1;
        var last = t->NDim - 1;
        if (shape[last] > 1 && t->Strides[last] != 1)
            throw new NotSupportedException($"DLPack: element stride {t->Strides[last]}; this library takes rows of consecutive elements (stride 1).");
        if (t->NDim == 1 || shape[0] <= 1) return -1;
        var s = t->Strides[0];
        return s == shape[1] ? -1 : s;
    }

    private static void CheckDevice(Backend backend, DLDevice device)
    {
        var host = backend.Name is "cpu" or "emu";
        var ok = device.DeviceType switch
        {
            DLDeviceType.Cpu or DLDeviceType.CudaHost => host,
            DLDeviceType.Cuda => backend.Name == "cuda" && device.DeviceId == CudaOrdinal(backend),
            _ => false,
        };
        if (!ok)
            throw new NotSupportedException($"DLPack: memory on device type {(int)device.DeviceType} id {device.DeviceId} cannot be used by backend " +
                                            $"'{backend.Name}' (kDLCPU / kDLCUDAHost for cpu and emu, kDLCUDA of its own GPU for cuda).");
    }

    private static int CudaOrdinal(Backend backend) => backend is CudaBackend { Runtime: GpuRuntime g } ? g.Device.Ordinal : 0;

    private static DType ToDType(DLDataType t) => (t.Code, t.Bits, t.Lanes) switch
    {
        (DLDataTypeCode.Float, 32, 1) => DType.F32,
        (DLDataTypeCode.Bfloat, 16, 1) => DType.BF16,
        (DLDataTypeCode.Float, 16, 1) => DType.F16,
        _ => throw new NotSupportedException($"DLPack: dtype code {(int)t.Code}, {t.Bits} bits, {t.Lanes} lanes; this library takes float32, bfloat16 and float16."),
    };

    private static DLDataType FromDType(DType t) => t switch
    {
        DType.F32 => new DLDataType { Code = DLDataTypeCode.Float, Bits = 32, Lanes = 1 },
        DType.BF16 => new DLDataType { Code = DLDataTypeCode.Bfloat, Bits = 16, Lanes = 1 },
        DType.F16 => new DLDataType { Code = DLDataTypeCode.Float, Bits = 16, Lanes = 1 },
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    // ---- export ------------------------------------------------------------------------------------------------

    /// <summary>One native block per export: the managed tensor, then its shape and strides.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct VersionedExport
    {
        public DLManagedTensorVersioned Managed;
        public fixed long Shape[2];
        public fixed long Strides[2];
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct LegacyExport
    {
        public DLManagedTensor Managed;
        public fixed long Shape[2];
        public fixed long Strides[2];
    }

    /// <summary>A new DLManagedTensorVersioned* over <paramref name="tensor"/>'s memory; the consumer calls its deleter once.</summary>
    public static nint ToDLPackVersioned(Tensor tensor)
    {
        var (ctx, device) = BeginExport(tensor);
        var e = (VersionedExport*)NativeMemory.AllocZeroed((nuint)sizeof(VersionedExport));
        e->Managed.Version = new DLPackVersion { Major = MajorVersion, Minor = MinorVersion };
        e->Managed.ManagerCtx = ctx;
        e->Managed.Deleter = &ReleaseVersioned;
        Describe(tensor, device, &e->Managed.DLTensor, e->Shape, e->Strides);
        return (nint)e;
    }

    /// <summary>A new legacy DLManagedTensor* over <paramref name="tensor"/>'s memory; the consumer calls its deleter once.</summary>
    public static nint ToDLPack(Tensor tensor)
    {
        var (ctx, device) = BeginExport(tensor);
        var e = (LegacyExport*)NativeMemory.AllocZeroed((nuint)sizeof(LegacyExport));
        e->Managed.ManagerCtx = ctx;
        e->Managed.Deleter = &ReleaseLegacy;
        Describe(tensor, device, &e->Managed.DLTensor, e->Shape, e->Strides);
        return (nint)e;
    }

    /// <summary>Holds the tensor's memory (until the deleter) and returns the handle the deleter frees, and the device.</summary>
    private static (nint Ctx, DLDevice Device) BeginExport(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.IsDisposed) throw new ObjectDisposedException(nameof(Tensor), $"ToDLPack: tensor {tensor.Describe} was disposed.");
        var device = tensor.Backend.Name == "cuda"
            ? new DLDevice { DeviceType = DLDeviceType.Cuda, DeviceId = CudaOrdinal(tensor.Backend) }
            : new DLDevice { DeviceType = DLDeviceType.Cpu, DeviceId = 0 };
        var release = tensor.Retain();
        return (GCHandle.ToIntPtr(GCHandle.Alloc(release)), device);
    }

    private static void Describe(Tensor tensor, DLDevice device, DLTensor* t, long* shape, long* strides)
    {
        t->Data = tensor.Length == 0 ? 0 : tensor.Ptr;
        t->Device = device;
        t->NDim = tensor.Rank;
        t->DType = FromDType(tensor.DType);
        for (var i = 0; i < tensor.Rank; i++) shape[i] = tensor.Shape[i];
        strides[tensor.Rank - 1] = 1;
        if (tensor.Rank == 2) strides[0] = tensor.Cols;
        t->Shape = shape;
        t->Strides = strides;
        t->ByteOffset = 0;
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    private static void ReleaseVersioned(DLManagedTensorVersioned* self) => Release(self, self->ManagerCtx);

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    private static void ReleaseLegacy(DLManagedTensor* self) => Release(self, self->ManagerCtx);

    /// <summary>The deleter: frees the block, then gives up the hold on the tensor's memory. Never throws into native code.</summary>
    private static void Release(void* block, nint ctx)
    {
        if (block == null) return;
        var handle = GCHandle.FromIntPtr(ctx);
        var release = (Action)handle.Target!;
        handle.Free();
        NativeMemory.Free(block);
        try
        {
            release();
        }
        catch (Exception e)
        {
            Devices.Log?.Invoke($"Sara.Native: DLPack deleter could not release the tensor's memory: {e.Message}");
        }
    }
}
