namespace Sara.Native.Runtime;

/// <summary>
/// The argument rules every runtime's row-major GEMM applies, so cuBLAS and the emulator's OpenBLAS accept and refuse
/// the same calls: sizes >= 0, each leading dimension >= max(1, its row length) as BLAS requires (an empty matrix passes
/// ld 1). An empty C is no work; k = 0 with a non-empty C is C = beta C (BLAS semantics, which cuBLAS and OpenBLAS follow).
/// </summary>
public static class GemmArgs
{
    /// <summary>Throws for bad sizes or leading dimensions; false when C is empty and there is nothing to do.</summary>
    public static bool Check(bool transA, bool transB, int m, int n, int k, int lda, int ldb, int ldc)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        RequireLeading(lda, transA ? m : k, nameof(lda), $"op(A) of shape [{m},{k}] with transA={transA}");
        RequireLeading(ldb, transB ? k : n, nameof(ldb), $"op(B) of shape [{k},{n}] with transB={transB}");
        RequireLeading(ldc, n, nameof(ldc), $"C of shape [{m},{n}]");
        return m > 0 && n > 0;
    }

    /// <summary>The leading dimension of a dense row-major matrix with <paramref name="cols"/> columns: max(1, cols).</summary>
    public static int Leading(int cols) => Math.Max(1, cols);

    private static void RequireLeading(int ld, int cols, string name, string what)
    {
        if (ld < Math.Max(1, cols))
            throw new ArgumentOutOfRangeException(name, ld, $"{name} must be >= max(1, {cols}) for row-major {what}.");
    }
}
