using System.Runtime.InteropServices;
using Sara.Bindings;

namespace Sara.Native.Runtime;

/// <summary>
/// Aligned host memory: the "device" memory of the CPU backend and of the emulated runtime. Buffers of 2 MiB and more
/// are 2 MiB aligned and asked for transparent huge pages (madvise; a hint the kernel may ignore): with 4 KiB pages a
/// 1024-float row is one page, and the kernels that stream rows took a TLB miss and a fresh prefetch stream per row.
/// </summary>
public static unsafe class HostMemory
{
    private const long HugePage = 2L << 20;

    public static nint Alloc(long bytes)
    {
        if (bytes < HugePage) return (nint)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 64);
        var size = (bytes + HugePage - 1) / HugePage * HugePage;
        var p = (nint)NativeMemory.AlignedAlloc((nuint)size, (nuint)HugePage);
        Libc.Madvise(p, (nuint)size, Libc.MadvHugePage);
        return p;
    }

    public static void Free(nint ptr) => NativeMemory.AlignedFree((void*)ptr);

    public static void CopyIn(nint dst, ReadOnlySpan<byte> src) => src.CopyTo(new Span<byte>((void*)dst, src.Length));

    public static void CopyOut(Span<byte> dst, nint src) => new ReadOnlySpan<byte>((void*)src, dst.Length).CopyTo(dst);

    public static void Copy(nint dst, nint src, long bytes) => Buffer.MemoryCopy((void*)src, (void*)dst, bytes, bytes);

    public static void Fill32(nint dst, uint value, long count) => new Span<uint>((void*)dst, checked((int)count)).Fill(value);

    public static void Fill16(nint dst, ushort value, long count) => new Span<ushort>((void*)dst, checked((int)count)).Fill(value);
}
