using Sara.Native.Tensors;

namespace Sara.Native.Runtime;

/// <summary>
/// <see cref="IGemmPanels"/> in host memory: scratch from <paramref name="pool"/> (so it shows in the pool's statistics),
/// widening and narrowing by <see cref="Precision"/> (AVX2 where the CPU has it) and SGEMM through <see cref="HostBlas"/>
/// (rankKernels: false keeps the emulated runtime on OpenBLAS alone, like its Gemm).
/// </summary>
public sealed unsafe class HostGemmPanels(MemoryPool pool, bool rankKernels) : IGemmPanels
{
    public IDisposable Rent(long floats, out nint ptr)
    {
        var buffer = new Tensors.DeviceBuffer(pool, Math.Max(floats, 1) * sizeof(float));
        ptr = buffer.Pointer;
        return buffer;
    }

    public void Widen(DType type, nint src, int lds, int rows, int cols, nint dst, int ldd)
    {
        for (var r = 0; r < rows; r++)
            Precision.Widen(type, new ReadOnlySpan<ushort>((void*)(src + (nint)r * lds * 2), cols),
                new Span<float>((void*)(dst + (nint)r * ldd * 4), cols));
    }

    public void Narrow(DType type, nint src, int lds, int rows, int cols, nint dst, int ldd)
    {
        for (var r = 0; r < rows; r++)
            Precision.Narrow(type, new ReadOnlySpan<float>((void*)(src + (nint)r * lds * 4), cols),
                new Span<ushort>((void*)(dst + (nint)r * ldd * 2), cols));
    }

    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, nint b, int ldb, float beta, nint c, int ldc) =>
        HostBlas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, rankKernels);
}
