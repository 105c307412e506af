using Sara.Bindings;

namespace Sara.Native.Runtime;

/// <summary>Row-major SGEMM through OpenBLAS, shared by the CPU backend and the emulated runtime.</summary>
public static class HostBlas
{
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, nint b, int ldb,
        float beta, nint c, int ldc)
    {
        if (m == 0 || n == 0) return;
        OpenBlas.Sgemm(OpenBlas.RowMajor, transA ? OpenBlas.Trans : OpenBlas.NoTrans, transB ? OpenBlas.Trans : OpenBlas.NoTrans,
            m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}
