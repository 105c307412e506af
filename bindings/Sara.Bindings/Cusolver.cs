using System.Runtime.InteropServices;

namespace Sara.Bindings;

/// <summary>cusolverStatus_t (cusolver_common.h).</summary>
public enum CusolverStatus
{
    CUSOLVER_STATUS_SUCCESS = 0,
    CUSOLVER_STATUS_NOT_INITIALIZED = 1,
    CUSOLVER_STATUS_ALLOC_FAILED = 2,
    CUSOLVER_STATUS_INVALID_VALUE = 3,
    CUSOLVER_STATUS_ARCH_MISMATCH = 4,
    CUSOLVER_STATUS_MAPPING_ERROR = 5,
    CUSOLVER_STATUS_EXECUTION_FAILED = 6,
    CUSOLVER_STATUS_INTERNAL_ERROR = 7,
    CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED = 8,
    CUSOLVER_STATUS_NOT_SUPPORTED = 9,
    CUSOLVER_STATUS_ZERO_PIVOT = 10,
    CUSOLVER_STATUS_INVALID_LICENSE = 11,
}

/// <summary>cusolverEigMode_t.</summary>
public enum CusolverEigMode { NoVector = 0, Vector = 1 }

/// <summary>
/// cuSOLVER dense API (libcusolver). Column-major. Device pointers are nint; devInfo is a device int*.
/// gesvd's jobu/jobvt are ASCII bytes ('A', 'S', 'O', 'N').
/// </summary>
public static partial class Cusolver
{
    public static void Check(CusolverStatus status, string call)
    {
        if (status != CusolverStatus.CUSOLVER_STATUS_SUCCESS)
            throw new NativeCallException(call, Enum.IsDefined(status) ? status.ToString() : $"cusolverStatus_t({(int)status})", (int)status);
    }

    [LibraryImport(Lib.Cusolver)] public static partial CusolverStatus cusolverDnCreate(out nint handle);
    [LibraryImport(Lib.Cusolver)] public static partial CusolverStatus cusolverDnDestroy(nint handle);
    [LibraryImport(Lib.Cusolver)] public static partial CusolverStatus cusolverDnSetStream(nint handle, nint stream);

    // QR-based SVD (requires m >= n).
    [LibraryImport(Lib.Cusolver)] public static partial CusolverStatus cusolverDnSgesvd_bufferSize(nint handle, int m, int n, out int lwork);

    [LibraryImport(Lib.Cusolver)]
    public static partial CusolverStatus cusolverDnSgesvd(nint handle, byte jobu, byte jobvt, int m, int n,
        nint a, int lda, nint s, nint u, int ldu, nint vt, int ldvt, nint work, int lwork, nint rwork, nint devInfo);

    // Jacobi SVD (any m, n; returns V, not V^T).
    [LibraryImport(Lib.Cusolver)] public static partial CusolverStatus cusolverDnCreateGesvdjInfo(out nint info);
    [LibraryImport(Lib.Cusolver)] public static partial CusolverStatus cusolverDnDestroyGesvdjInfo(nint info);

    [LibraryImport(Lib.Cusolver)]
    public static partial CusolverStatus cusolverDnSgesvdj_bufferSize(nint handle, CusolverEigMode jobz, int econ, int m, int n,
        nint a, int lda, nint s, nint u, int ldu, nint v, int ldv, out int lwork, nint gesvdjInfo);

    [LibraryImport(Lib.Cusolver)]
    public static partial CusolverStatus cusolverDnSgesvdj(nint handle, CusolverEigMode jobz, int econ, int m, int n,
        nint a, int lda, nint s, nint u, int ldu, nint v, int ldv, nint work, int lwork, nint devInfo, nint gesvdjInfo);

    // Cholesky.
    [LibraryImport(Lib.Cusolver)]
    public static partial CusolverStatus cusolverDnSpotrf_bufferSize(nint handle, CublasFillMode uplo, int n, nint a, int lda, out int lwork);

    [LibraryImport(Lib.Cusolver)]
    public static partial CusolverStatus cusolverDnSpotrf(nint handle, CublasFillMode uplo, int n, nint a, int lda,
        nint work, int lwork, nint devInfo);

    // Symmetric eigen-decomposition (divide and conquer).
    [LibraryImport(Lib.Cusolver)]
    public static partial CusolverStatus cusolverDnSsyevd_bufferSize(nint handle, CusolverEigMode jobz, CublasFillMode uplo, int n,
        nint a, int lda, nint w, out int lwork);

    [LibraryImport(Lib.Cusolver)]
    public static partial CusolverStatus cusolverDnSsyevd(nint handle, CusolverEigMode jobz, CublasFillMode uplo, int n,
        nint a, int lda, nint w, nint work, int lwork, nint devInfo);

    [LibraryImport(Lib.Cusolver)]
    public static partial CusolverStatus cusolverDnDsyevd_bufferSize(nint handle, CusolverEigMode jobz, CublasFillMode uplo, int n,
        nint a, int lda, nint w, out int lwork);

    [LibraryImport(Lib.Cusolver)]
    public static partial CusolverStatus cusolverDnDsyevd(nint handle, CusolverEigMode jobz, CublasFillMode uplo, int n,
        nint a, int lda, nint w, nint work, int lwork, nint devInfo);
}
