using Sara.Bindings;
using Sara.Native.Runtime.HostKernels;

namespace Sara.Native.Runtime;

/// <summary>
/// Row-major SGEMM on the host, shared by the CPU backend and the emulated runtime: rank-k shapes go to the AVX-512
/// kernels in <see cref="SkinnyGemm"/>, everything else to OpenBLAS.
/// </summary>
public static class HostBlas
{
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, nint b, int ldb,
        float beta, nint c, int ldc)
    {
        if (m == 0 || n == 0) return;
        if (SkinnyGemm.TryRun(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
        OpenBlas.Sgemm(OpenBlas.RowMajor, transA ? OpenBlas.Trans : OpenBlas.NoTrans, transB ? OpenBlas.Trans : OpenBlas.NoTrans,
            m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}
