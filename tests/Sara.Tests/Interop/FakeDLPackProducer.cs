using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Sara.Native.Interop;

namespace Sara.Tests.Interop;

/// <summary>
/// A DLPack producer written from dlpack.h for the tests: each managed tensor (versioned or legacy) is one native block
/// holding the struct, its shape and strides; its data is a separate block. The deleter counts its calls per tensor and
/// frees both blocks, so a second call would be counted (and a use after it would read freed memory).
/// </summary>
public static unsafe class FakeDLPackProducer
{
    private static readonly ConcurrentDictionary<nint, int> Calls = new();
    private static readonly ConcurrentDictionary<nint, nint> Data = new();
    private static long s_next;

    /// <summary>How many times the deleter of the tensor with this id ran.</summary>
    public static int DeleterCalls(nint id) => Calls.TryGetValue(id, out var n) ? n : 0;

    [StructLayout(LayoutKind.Sequential)]
    private struct VersionedBlock
    {
        public DLManagedTensorVersioned Managed;
        public fixed long Shape[4];
        public fixed long Strides[4];
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct LegacyBlock
    {
        public DLManagedTensor Managed;
        public fixed long Shape[4];
        public fixed long Strides[4];
    }

    /// <summary>What the producer describes; the defaults are a valid f32 kDLCPU tensor.</summary>
    public sealed record Spec(long[] Shape)
    {
        public DLDevice Device { get; init; } = new() { DeviceType = DLDeviceType.Cpu };
        public DLDataType DType { get; init; } = new() { Code = DLDataTypeCode.Float, Bits = 32, Lanes = 1 };
        public long[]? Strides { get; init; }
        public uint Major { get; init; } = 1;
        public ulong Flags { get; init; }
        public ulong ByteOffset { get; init; }
        public float[]? Values { get; init; }
    }

    /// <summary>A DLManagedTensorVersioned*; the id is its manager_ctx.</summary>
    public static (nint Managed, nint Id, nint Data) Versioned(Spec spec)
    {
        var b = (VersionedBlock*)NativeMemory.AllocZeroed((nuint)sizeof(VersionedBlock));
        var id = (nint)Interlocked.Increment(ref s_next);
        b->Managed.Version = new DLPackVersion { Major = spec.Major, Minor = 0 };
        b->Managed.ManagerCtx = id;
        b->Managed.Deleter = &DeleteVersioned;
        b->Managed.Flags = spec.Flags;
        var data = Fill(spec, &b->Managed.DLTensor, b->Shape, b->Strides);
        Data[id] = data;
        return ((nint)b, id, data);
    }

    /// <summary>A legacy DLManagedTensor*; the id is its manager_ctx.</summary>
    public static (nint Managed, nint Id, nint Data) Legacy(Spec spec)
    {
        var b = (LegacyBlock*)NativeMemory.AllocZeroed((nuint)sizeof(LegacyBlock));
        var id = (nint)Interlocked.Increment(ref s_next);
        b->Managed.ManagerCtx = id;
        b->Managed.Deleter = &DeleteLegacy;
        var data = Fill(spec, &b->Managed.DLTensor, b->Shape, b->Strides);
        Data[id] = data;
        return ((nint)b, id, data);
    }

    private static nint Fill(Spec spec, DLTensor* t, long* shape, long* strides)
    {
        var count = spec.Shape.Aggregate(1L, (a, d) => a * Math.Max(d, 0));
        var bytes = (long)spec.ByteOffset + Math.Max(count, 1) * 4 * 4;   // room for padded strides
        var data = (nint)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        new Span<byte>((void*)data, (int)bytes).Clear();
        if (spec.Values is { } v) v.AsSpan().CopyTo(new Span<float>((void*)(data + (nint)spec.ByteOffset), v.Length));
        t->Data = data;
        t->Device = spec.Device;
        t->NDim = spec.Shape.Length;
        t->DType = spec.DType;
        for (var i = 0; i < spec.Shape.Length; i++) shape[i] = spec.Shape[i];
        t->Shape = shape;
        if (spec.Strides is { } s)
        {
            for (var i = 0; i < s.Length; i++) strides[i] = s[i];
            t->Strides = strides;
        }
        t->ByteOffset = spec.ByteOffset;
        return data;
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    private static void DeleteVersioned(DLManagedTensorVersioned* self) => Delete(self, self->ManagerCtx);

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    private static void DeleteLegacy(DLManagedTensor* self) => Delete(self, self->ManagerCtx);

    private static void Delete(void* block, nint id)
    {
        var first = Calls.AddOrUpdate(id, 1, (_, n) => n + 1) == 1;
        if (!first) return;   // counted; freeing twice would crash the test run instead of failing it
        if (Data.TryRemove(id, out var data)) NativeMemory.AlignedFree((void*)data);
        NativeMemory.Free(block);
    }
}
