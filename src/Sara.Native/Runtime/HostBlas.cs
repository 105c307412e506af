using Sara.Bindings;
using Sara.Native.Runtime.HostKernels;

namespace Sara.Native.Runtime;

/// <summary>
/// Row-major SGEMM on the host. For the CPU backend, rank-k shapes go to the AVX-512 kernels in <see cref="SkinnyGemm"/>
/// and everything else to OpenBLAS. The emulated runtime (cuBLAS's stand-in) passes rankKernels: false and stays on
/// OpenBLAS alone, so the tests that compare the cpu and emu devices compare two GEMM implementations, not one.
/// </summary>
public static class HostBlas
{
    /// <summary><paramref name="batch"/> GEMMs as <see cref="Sgemm"/>, item i at a + i strideA, ... (strides in elements).</summary>
    public static void SgemmStridedBatched(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, long strideA,
        nint b, int ldb, long strideB, float beta, nint c, int ldc, long strideC, int batch, bool rankKernels = true)
    {
        for (var i = 0; i < batch; i++)
            Sgemm(transA, transB, m, n, k, alpha, a + (nint)(i * strideA * sizeof(float)), lda, b + (nint)(i * strideB * sizeof(float)), ldb,
                beta, c + (nint)(i * strideC * sizeof(float)), ldc, rankKernels);
    }

    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, nint b, int ldb,
        float beta, nint c, int ldc, bool rankKernels = true)
    {
        if (m == 0 || n == 0) return;
        if (rankKernels && SkinnyGemm.TryRun(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
        OpenBlas.Sgemm(OpenBlas.RowMajor, transA ? OpenBlas.Trans : OpenBlas.NoTrans, transB ? OpenBlas.Trans : OpenBlas.NoTrans,
            m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}
