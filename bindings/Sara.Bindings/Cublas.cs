using System.Runtime.InteropServices;

namespace Sara.Bindings;

/// <summary>cublasStatus_t (cublas_api.h).</summary>
public enum CublasStatus
{
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_ARCH_MISMATCH = 8,
    CUBLAS_STATUS_MAPPING_ERROR = 11,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_INTERNAL_ERROR = 14,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
    CUBLAS_STATUS_LICENSE_ERROR = 16,
}

/// <summary>cublasOperation_t.</summary>
public enum CublasOperation { N = 0, T = 1, C = 2 }

/// <summary>cublasMath_t (flags may be OR-ed with DisallowReducedPrecisionReduction).</summary>
public enum CublasMath
{
    Default = 0,
    TensorOp = 1,
    Pedantic = 2,
    Tf32TensorOp = 3,
    DisallowReducedPrecisionReduction = 16,
}

/// <summary>cublasFillMode_t (also used by cuSOLVER).</summary>
public enum CublasFillMode { Lower = 0, Upper = 1, Full = 2 }

/// <summary>cuBLAS v2 API (libcublas). Column-major; alpha/beta are host pointers (default pointer mode).</summary>
public static unsafe partial class Cublas
{
    public static void Check(CublasStatus status, string call)
    {
        if (status != CublasStatus.CUBLAS_STATUS_SUCCESS)
            throw new NativeCallException(call, Enum.IsDefined(status) ? status.ToString() : $"cublasStatus_t({(int)status})", (int)status);
    }

    [LibraryImport(Lib.Cublas)] public static partial CublasStatus cublasCreate_v2(out nint handle);
    [LibraryImport(Lib.Cublas)] public static partial CublasStatus cublasDestroy_v2(nint handle);
    [LibraryImport(Lib.Cublas)] public static partial CublasStatus cublasSetStream_v2(nint handle, nint stream);
    [LibraryImport(Lib.Cublas)] public static partial CublasStatus cublasSetMathMode(nint handle, CublasMath mode);
    [LibraryImport(Lib.Cublas)] public static partial CublasStatus cublasGetVersion_v2(nint handle, out int version);

    [LibraryImport(Lib.Cublas)]
    public static partial CublasStatus cublasSgemm_v2(nint handle, CublasOperation transA, CublasOperation transB,
        int m, int n, int k, float* alpha, nint a, int lda, nint b, int ldb, float* beta, nint c, int ldc);

    [LibraryImport(Lib.Cublas)]
    public static partial CublasStatus cublasSgemmStridedBatched(nint handle, CublasOperation transA, CublasOperation transB,
        int m, int n, int k, float* alpha, nint a, int lda, long strideA, nint b, int ldb, long strideB,
        float* beta, nint c, int ldc, long strideC, int batchCount);

    /// <summary>C = alpha op(A) + beta op(B) (m x n); with op = T and beta = 0 this is an out-of-place transpose.</summary>
    [LibraryImport(Lib.Cublas)]
    public static partial CublasStatus cublasSgeam(nint handle, CublasOperation transA, CublasOperation transB, int m, int n,
        float* alpha, nint a, int lda, float* beta, nint b, int ldb, nint c, int ldc);

    /// <summary>Packs the uplo triangle of column-major A (n x n, ld lda) into AP (n(n+1)/2, column-major packed).</summary>
    [LibraryImport(Lib.Cublas)]
    public static partial CublasStatus cublasStrttp(nint handle, CublasFillMode uplo, int n, nint a, int lda, nint ap);

    /// <summary>Unpacks AP into the uplo triangle of column-major A; the other triangle is left untouched.</summary>
    [LibraryImport(Lib.Cublas)]
    public static partial CublasStatus cublasStpttr(nint handle, CublasFillMode uplo, int n, nint ap, nint a, int lda);
}
