using System.Runtime.InteropServices;

namespace Sara.Bindings;

/// <summary>
/// LAPACKE (liblapacke.so.3, LP64: lapack_int is int). Matrices are nint pointers; job/uplo flags are ASCII bytes
/// ('A', 'S', 'N', 'V', 'L', 'U'). Every call returns LAPACK's info: 0 ok, &lt;0 argument -info illegal, &gt;0 numerical failure.
/// </summary>
public static partial class Lapacke
{
    public const int RowMajor = 101, ColMajor = 102;

    /// <summary>Throws <see cref="NativeCallException"/> naming the call when info != 0.</summary>
    public static void Check(int info, string call)
    {
        if (info != 0) throw new NativeCallException(call, InfoName(info, call), info);
    }

    /// <summary>Name of a non-zero info, following the LAPACK documentation of the routine family.</summary>
    public static string InfoName(int info, string call) => info switch
    {
        0 => "SUCCESS",
        -1010 => "LAPACK_WORK_MEMORY_ERROR",
        -1011 => "LAPACK_TRANSPOSE_MEMORY_ERROR",
        < 0 => $"ILLEGAL_ARGUMENT_{-info}",
        _ when call.Contains("potrf", StringComparison.Ordinal) => $"NOT_POSITIVE_DEFINITE (leading minor {info})",
        _ when call.Contains("gesdd", StringComparison.Ordinal) || call.Contains("gesvd", StringComparison.Ordinal)
            => $"SVD_DID_NOT_CONVERGE ({info} superdiagonals)",
        _ when call.Contains("syevd", StringComparison.Ordinal) => $"EIGEN_DID_NOT_CONVERGE ({info})",
        _ => $"INFO_{info}",
    };

    [LibraryImport(Lib.Lapacke, EntryPoint = "LAPACKE_sgesdd")]
    public static partial int Sgesdd(int layout, byte jobz, int m, int n, nint a, int lda, nint s, nint u, int ldu, nint vt, int ldvt);

    [LibraryImport(Lib.Lapacke, EntryPoint = "LAPACKE_dgesdd")]
    public static partial int Dgesdd(int layout, byte jobz, int m, int n, nint a, int lda, nint s, nint u, int ldu, nint vt, int ldvt);

    /// <summary><paramref name="superb"/> holds min(m,n)-1 floats (unconverged superdiagonals on failure).</summary>
    [LibraryImport(Lib.Lapacke, EntryPoint = "LAPACKE_sgesvd")]
    public static partial int Sgesvd(int layout, byte jobu, byte jobvt, int m, int n, nint a, int lda, nint s,
        nint u, int ldu, nint vt, int ldvt, nint superb);

    [LibraryImport(Lib.Lapacke, EntryPoint = "LAPACKE_ssyevd")]
    public static partial int Ssyevd(int layout, byte jobz, byte uplo, int n, nint a, int lda, nint w);

    [LibraryImport(Lib.Lapacke, EntryPoint = "LAPACKE_dsyevd")]
    public static partial int Dsyevd(int layout, byte jobz, byte uplo, int n, nint a, int lda, nint w);

    [LibraryImport(Lib.Lapacke, EntryPoint = "LAPACKE_spotrf")]
    public static partial int Spotrf(int layout, byte uplo, int n, nint a, int lda);

    [LibraryImport(Lib.Lapacke, EntryPoint = "LAPACKE_dpotrf")]
    public static partial int Dpotrf(int layout, byte uplo, int n, nint a, int lda);

    /// <summary>Householder QR of a[m,n]: R in the upper triangle, the reflectors below it and in tau (min(m,n)).</summary>
    [LibraryImport(Lib.Lapacke, EntryPoint = "LAPACKE_dgeqrf")]
    public static partial int Dgeqrf(int layout, int m, int n, nint a, int lda, nint tau);

    /// <summary>Forms the m x n Q (m &gt;= n &gt;= k) from the k reflectors dgeqrf left in a and tau.</summary>
    [LibraryImport(Lib.Lapacke, EntryPoint = "LAPACKE_dorgqr")]
    public static partial int Dorgqr(int layout, int m, int n, int k, nint a, int lda, nint tau);
}
