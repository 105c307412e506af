using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sara.Native.Runtime.HostKernels;

/// <summary>
/// Row-dot micro-kernel (AVX-512): C[i, j] = alpha * (L row i . R row j) + beta * C[i, j] for a tile of up to
/// 4 rows of L (kept in L1) against up to 6 rows of R (streamed from L2): 24 zmm accumulators along the shared
/// dimension, 10 loads per 24 FMAs. Used for P = X R^T where R has few rows (H = X B^T, dZ = G A).
/// beta = 0 never reads C (it may hold NaN).
/// </summary>
internal static unsafe class DotTiles
{
    /// <summary>Runs the TRows x TCols tile chosen at run time (rows 1..4, cols 1..6).</summary>
    public static void Run(int rows, int cols, float* l, nint ldl, float* r, nint ldr, int depth, float* c, nint ldc,
        float alpha, float beta)
    {
        switch (rows)
        {
            case 4: Cols<Size4>(cols, l, ldl, r, ldr, depth, c, ldc, alpha, beta); break;
            case 3: Cols<Size3>(cols, l, ldl, r, ldr, depth, c, ldc, alpha, beta); break;
            case 2: Cols<Size2>(cols, l, ldl, r, ldr, depth, c, ldc, alpha, beta); break;
            default: Cols<Size1>(cols, l, ldl, r, ldr, depth, c, ldc, alpha, beta); break;
        }
    }

    private static void Cols<TRows>(int cols, float* l, nint ldl, float* r, nint ldr, int depth, float* c, nint ldc,
        float alpha, float beta) where TRows : struct, ITileSize
    {
        switch (cols)
        {
            case 6: Tile<TRows, Size6>(l, ldl, r, ldr, depth, c, ldc, alpha, beta); break;
            case 5: Tile<TRows, Size5>(l, ldl, r, ldr, depth, c, ldc, alpha, beta); break;
            case 4: Tile<TRows, Size4>(l, ldl, r, ldr, depth, c, ldc, alpha, beta); break;
            case 3: Tile<TRows, Size3>(l, ldl, r, ldr, depth, c, ldc, alpha, beta); break;
            case 2: Tile<TRows, Size2>(l, ldl, r, ldr, depth, c, ldc, alpha, beta); break;
            default: Tile<TRows, Size1>(l, ldl, r, ldr, depth, c, ldc, alpha, beta); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows, TCols>(float* l, nint ldl, float* r, nint ldr, int depth, float* c, nint ldc,
        float alpha, float beta) where TRows : struct, ITileSize where TCols : struct, ITileSize
    {
        int nr = TRows.Value, nc = TCols.Value;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a04 = default, a05 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default, a14 = default, a15 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a24 = default, a25 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default, a34 = default, a35 = default;
        float* l0 = l, l1 = l + ldl, l2 = l + 2 * ldl, l3 = l + 3 * ldl;
        float* r0 = r, r1 = r + ldr, r2 = r + 2 * ldr, r3 = r + 3 * ldr, r4 = r + 4 * ldr, r5 = r + 5 * ldr;
        var p = 0;
        for (; p <= depth - 16; p += 16)
        {
            var v0 = Vector512.Load(r0 + p);
            var v1 = nc > 1 ? Vector512.Load(r1 + p) : default;
            var v2 = nc > 2 ? Vector512.Load(r2 + p) : default;
            var v3 = nc > 3 ? Vector512.Load(r3 + p) : default;
            var v4 = nc > 4 ? Vector512.Load(r4 + p) : default;
            var v5 = nc > 5 ? Vector512.Load(r5 + p) : default;
            var x = Vector512.Load(l0 + p);
            a00 = Vector512.FusedMultiplyAdd(x, v0, a00);
            if (nc > 1) a01 = Vector512.FusedMultiplyAdd(x, v1, a01);
            if (nc > 2) a02 = Vector512.FusedMultiplyAdd(x, v2, a02);
            if (nc > 3) a03 = Vector512.FusedMultiplyAdd(x, v3, a03);
            if (nc > 4) a04 = Vector512.FusedMultiplyAdd(x, v4, a04);
            if (nc > 5) a05 = Vector512.FusedMultiplyAdd(x, v5, a05);
            if (nr > 1)
            {
                x = Vector512.Load(l1 + p);
                a10 = Vector512.FusedMultiplyAdd(x, v0, a10);
                if (nc > 1) a11 = Vector512.FusedMultiplyAdd(x, v1, a11);
                if (nc > 2) a12 = Vector512.FusedMultiplyAdd(x, v2, a12);
                if (nc > 3) a13 = Vector512.FusedMultiplyAdd(x, v3, a13);
                if (nc > 4) a14 = Vector512.FusedMultiplyAdd(x, v4, a14);
                if (nc > 5) a15 = Vector512.FusedMultiplyAdd(x, v5, a15);
            }
            if (nr > 2)
            {
                x = Vector512.Load(l2 + p);
                a20 = Vector512.FusedMultiplyAdd(x, v0, a20);
                if (nc > 1) a21 = Vector512.FusedMultiplyAdd(x, v1, a21);
                if (nc > 2) a22 = Vector512.FusedMultiplyAdd(x, v2, a22);
                if (nc > 3) a23 = Vector512.FusedMultiplyAdd(x, v3, a23);
                if (nc > 4) a24 = Vector512.FusedMultiplyAdd(x, v4, a24);
                if (nc > 5) a25 = Vector512.FusedMultiplyAdd(x, v5, a25);
            }
            if (nr > 3)
            {
                x = Vector512.Load(l3 + p);
                a30 = Vector512.FusedMultiplyAdd(x, v0, a30);
                if (nc > 1) a31 = Vector512.FusedMultiplyAdd(x, v1, a31);
                if (nc > 2) a32 = Vector512.FusedMultiplyAdd(x, v2, a32);
                if (nc > 3) a33 = Vector512.FusedMultiplyAdd(x, v3, a33);
                if (nc > 4) a34 = Vector512.FusedMultiplyAdd(x, v4, a34);
                if (nc > 5) a35 = Vector512.FusedMultiplyAdd(x, v5, a35);
            }
        }
        // Horizontal sums first (intrinsics, no calls): a call while accumulators are live makes the JIT spill them
        // inside the loop.
        var sums = stackalloc float[24];
        sums[0] = Vector512.Sum(a00);
        if (nc > 1) sums[1] = Vector512.Sum(a01);
        if (nc > 2) sums[2] = Vector512.Sum(a02);
        if (nc > 3) sums[3] = Vector512.Sum(a03);
        if (nc > 4) sums[4] = Vector512.Sum(a04);
        if (nc > 5) sums[5] = Vector512.Sum(a05);
        if (nr > 1) sums[6] = Vector512.Sum(a10);
        if (nr > 1 && nc > 1) sums[7] = Vector512.Sum(a11);
        if (nr > 1 && nc > 2) sums[8] = Vector512.Sum(a12);
        if (nr > 1 && nc > 3) sums[9] = Vector512.Sum(a13);
        if (nr > 1 && nc > 4) sums[10] = Vector512.Sum(a14);
        if (nr > 1 && nc > 5) sums[11] = Vector512.Sum(a15);
        if (nr > 2) sums[12] = Vector512.Sum(a20);
        if (nr > 2 && nc > 1) sums[13] = Vector512.Sum(a21);
        if (nr > 2 && nc > 2) sums[14] = Vector512.Sum(a22);
        if (nr > 2 && nc > 3) sums[15] = Vector512.Sum(a23);
        if (nr > 2 && nc > 4) sums[16] = Vector512.Sum(a24);
        if (nr > 2 && nc > 5) sums[17] = Vector512.Sum(a25);
        if (nr > 3) sums[18] = Vector512.Sum(a30);
        if (nr > 3 && nc > 1) sums[19] = Vector512.Sum(a31);
        if (nr > 3 && nc > 2) sums[20] = Vector512.Sum(a32);
        if (nr > 3 && nc > 3) sums[21] = Vector512.Sum(a33);
        if (nr > 3 && nc > 4) sums[22] = Vector512.Sum(a34);
        if (nr > 3 && nc > 5) sums[23] = Vector512.Sum(a35);
        Finish(sums, nr, nc, l, ldl, r, ldr, p, depth, c, ldc, alpha, beta);
    }

    /// <summary>Adds the scalar tail of the shared dimension to each sum, then applies alpha and beta.</summary>
    private static void Finish(float* sums, int nr, int nc, float* l, nint ldl, float* r, nint ldr, int p, int depth,
        float* c, nint ldc, float alpha, float beta)
    {
        if (p < depth)
        {
            for (var i = 0; i < nr; i++)
            for (var j = 0; j < nc; j++)
            for (var q = p; q < depth; q++)
                sums[i * 6 + j] += l[i * ldl + q] * r[j * ldr + q];
        }
        for (var i = 0; i < nr; i++)
        {
            var row = c + i * ldc;
            if (beta == 0f) for (var j = 0; j < nc; j++) row[j] = alpha * sums[i * 6 + j];
            else for (var j = 0; j < nc; j++) row[j] = alpha * sums[i * 6 + j] + beta * row[j];
        }
    }
}
