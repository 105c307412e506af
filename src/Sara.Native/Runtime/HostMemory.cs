using System.Runtime.InteropServices;

namespace Sara.Native.Runtime;

/// <summary>64-byte aligned host memory: the "device" memory of the CPU backend and of the emulated runtime.</summary>
public static unsafe class HostMemory
{
    public static nint Alloc(long bytes) => (nint)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 64);

    public static void Free(nint ptr) => NativeMemory.AlignedFree((void*)ptr);

    public static void CopyIn(nint dst, ReadOnlySpan<byte> src) => src.CopyTo(new Span<byte>((void*)dst, src.Length));

    public static void CopyOut(Span<byte> dst, nint src) => new ReadOnlySpan<byte>((void*)src, dst.Length).CopyTo(dst);

    public static void Copy(nint dst, nint src, long bytes) => Buffer.MemoryCopy((void*)src, (void*)dst, bytes, bytes);

    public static void Fill32(nint dst, uint value, long count) => new Span<uint>((void*)dst, checked((int)count)).Fill(value);
}
