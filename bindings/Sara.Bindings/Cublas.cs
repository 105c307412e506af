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

/// <summary>cudaDataType_t (library_types.h, CUDA 11.8): the element types cublasGemmEx reads and writes.</summary>
public enum CudaDataType
{
    CUDA_R_32F = 0,
    CUDA_R_64F = 1,
    CUDA_R_16F = 2,
    CUDA_R_16BF = 14,
}

/// <summary>cublasComputeType_t (cublas_api.h, CUDA 11.8): how cublasGemmEx accumulates.</summary>
public enum CublasComputeType
{
    /// <summary>float32 accumulation; 16-bit inputs run on tensor cores, float32 inputs stay full FP32.</summary>
    CUBLAS_COMPUTE_32F = 68,
    CUBLAS_COMPUTE_32F_PEDANTIC = 69,
    /// <summary>float32 accumulation, float32 inputs rounded to TF32 on tensor cores.</summary>
    CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
}

/// <summary>cublasGemmAlgo_t: CUBLAS_GEMM_DEFAULT lets cuBLAS choose (tensor cores where the compute type allows).</summary>
public enum CublasGemmAlgo { Default = -1 }

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
    [LibraryImport(Lib.Cublas)] public static partial CublasStatus cublasGetMathMode(nint handle, out CublasMath mode);
    [LibraryImport(Lib.Cublas)] public static partial CublasStatus cublasGetVersion_v2(nint handle, out int version);

    [LibraryImport(Lib.Cublas)]
    public static partial CublasStatus cublasSgemm_v2(nint handle, CublasOperation transA, CublasOperation transB,
        int m, int n, int k, float* alpha, nint a, int lda, nint b, int ldb, float* beta, nint c, int ldc);

    [LibraryImport(Lib.Cublas)]
    public static partial CublasStatus cublasSgemmStridedBatched(nint handle, CublasOperation transA, CublasOperation transB,
        int m, int n, int k, float* alpha, nint a, int lda, long strideA, nint b, int ldb, long strideB,
        float* beta, nint c, int ldc, long strideC, int batchCount);

    /// <summary>
    /// C = alpha op(A) op(B) + beta C with typed operands (cublas_api.h 11.8: the exported symbol has no _v2 suffix; the
    /// inline C++ overload taking a cudaDataType compute type is header-only). alpha and beta are float for the 32F
    /// compute types. A and B must have one type: 16BF/16BF or 16F/16F with C of that type or 32F, or 32F/32F/32F.
    /// </summary>
    [LibraryImport(Lib.Cublas)]
    public static partial CublasStatus cublasGemmEx(nint handle, CublasOperation transA, CublasOperation transB,
        int m, int n, int k, float* alpha, nint a, CudaDataType aType, int lda, nint b, CudaDataType bType, int ldb,
        float* beta, nint c, CudaDataType cType, int ldc, CublasComputeType computeType, CublasGemmAlgo algo);

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
