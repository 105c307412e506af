using System.Runtime.InteropServices;

namespace Sara.Bindings;

/// <summary>OpenBLAS CBLAS entry points (libopenblas.so.0).</summary>
public static partial class OpenBlas
{
    public const int RowMajor = 101, ColMajor = 102;
    public const int NoTrans = 111, Trans = 112;

    [LibraryImport(Lib.OpenBlas, EntryPoint = "cblas_sgemm")]
    public static partial void Sgemm(int order, int transA, int transB, int m, int n, int k,
        float alpha, nint a, int lda, nint b, int ldb, float beta, nint c, int ldc);

    [LibraryImport(Lib.OpenBlas, EntryPoint = "cblas_dgemm")]
    public static partial void Dgemm(int order, int transA, int transB, int m, int n, int k,
        double alpha, nint a, int lda, nint b, int ldb, double beta, nint c, int ldc);

    [LibraryImport(Lib.OpenBlas, EntryPoint = "openblas_set_num_threads")]
    public static partial void SetNumThreads(int n);

    [LibraryImport(Lib.OpenBlas, EntryPoint = "openblas_get_num_threads")]
    public static partial int GetNumThreads();

    /// <summary>The kernel family OpenBLAS picked for this CPU (e.g. "Haswell", "SkylakeX"); a static C string.</summary>
    [LibraryImport(Lib.OpenBlas, EntryPoint = "openblas_get_corename")]
    public static partial nint GetCoreName();
}
