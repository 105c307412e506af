using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sara.Native.Runtime.HostKernels;

/// <summary>
/// Tall outer-product micro-kernel (AVX-512) for products with few output columns and a long shared dimension
/// (H = X B^T, dZ = G A: T x k outputs): C (up to 12 rows x 2 vectors = 32 columns) = alpha * sum over s of
/// L[i, s] * R[s, :] + beta * C, R row-major (K x N). Per step: 12 broadcasts and 2 loads feed 24 FMAs into 24 zmm
/// accumulators, with no horizontal sums (a row-dot form needed 24 of them per tile and ran ~1.5x slower).
/// beta = 0 never reads C (it may hold NaN).
/// </summary>
internal static unsafe class TallTiles
{
    public const int Rows = 12;
    public const int Lanes = OuterTiles.Lanes;

    /// <summary>Runs the rows x vectors tile chosen at run time (rows 1..12, vectors 1..2 of 16 columns).</summary>
    public static void Run(int rows, int vectors, float* l, nint ldl, float* r, nint ldr, int steps, float* c, nint ldc,
        float alpha, float beta)
    {
        if (vectors == 2) ByRows<Size2>(rows, l, ldl, r, ldr, steps, c, ldc, alpha, beta);
        else ByRows<Size1>(rows, l, ldl, r, ldr, steps, c, ldc, alpha, beta);
    }

    private static void ByRows<TVectors>(int rows, float* l, nint ldl, float* r, nint ldr, int steps, float* c, nint ldc,
        float alpha, float beta) where TVectors : struct, ITileSize
    {
        switch (rows)
        {
            case 12: Tile<Size12, TVectors>(l, ldl, r, ldr, steps, c, ldc, alpha, beta); break;
            case 11: Tile<Size11, TVectors>(l, ldl, r, ldr, steps, c, ldc, alpha, beta); break;
            case 10: Tile<Size10, TVectors>(l, ldl, r, ldr, steps, c, ldc, alpha, beta); break;
            case 9: Tile<Size9, TVectors>(l, ldl, r, ldr, steps, c, ldc, alpha, beta); break;
            case 8: Tile<Size8, TVectors>(l, ldl, r, ldr, steps, c, ldc, alpha, beta); break;
            case 7: Tile<Size7, TVectors>(l, ldl, r, ldr, steps, c, ldc, alpha, beta); break;
            case 6: Tile<Size6, TVectors>(l, ldl, r, ldr, steps, c, ldc, alpha, beta); break;
            case 5: Tile<Size5, TVectors>(l, ldl, r, ldr, steps, c, ldc, alpha, beta); break;
            case 4: Tile<Size4, TVectors>(l, ldl, r, ldr, steps, c, ldc, alpha, beta); break;
            case 3: Tile<Size3, TVectors>(l, ldl, r, ldr, steps, c, ldc, alpha, beta); break;
            case 2: Tile<Size2, TVectors>(l, ldl, r, ldr, steps, c, ldc, alpha, beta); break;
            default: Tile<Size1, TVectors>(l, ldl, r, ldr, steps, c, ldc, alpha, beta); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows, TVectors>(float* l, nint ldl, float* r, nint ldr, int steps, float* c, nint ldc,
        float alpha, float beta) where TRows : struct, ITileSize where TVectors : struct, ITileSize
    {
        int nr = TRows.Value, nv = TVectors.Value;
        Vector512<float> a0_0 = default, a0_1 = default;
        Vector512<float> a1_0 = default, a1_1 = default;
        Vector512<float> a2_0 = default, a2_1 = default;
        Vector512<float> a3_0 = default, a3_1 = default;
        Vector512<float> a4_0 = default, a4_1 = default;
        Vector512<float> a5_0 = default, a5_1 = default;
        Vector512<float> a6_0 = default, a6_1 = default;
        Vector512<float> a7_0 = default, a7_1 = default;
        Vector512<float> a8_0 = default, a8_1 = default;
        Vector512<float> a9_0 = default, a9_1 = default;
        Vector512<float> a10_0 = default, a10_1 = default;
        Vector512<float> a11_0 = default, a11_1 = default;
        for (var s = 0; s < steps; s++, l++, r += ldr)
        {
            var v0 = Vector512.Load(r);
            var v1 = nv > 1 ? Vector512.Load(r + Lanes) : default;
            { var x = Vector512.Create(l[0 * ldl]); a0_0 = Vector512.FusedMultiplyAdd(x, v0, a0_0); if (nv > 1) a0_1 = Vector512.FusedMultiplyAdd(x, v1, a0_1); }
            if (nr > 1) { var x = Vector512.Create(l[1 * ldl]); a1_0 = Vector512.FusedMultiplyAdd(x, v0, a1_0); if (nv > 1) a1_1 = Vector512.FusedMultiplyAdd(x, v1, a1_1); }
            if (nr > 2) { var x = Vector512.Create(l[2 * ldl]); a2_0 = Vector512.FusedMultiplyAdd(x, v0, a2_0); if (nv > 1) a2_1 = Vector512.FusedMultiplyAdd(x, v1, a2_1); }
            if (nr > 3) { var x = Vector512.Create(l[3 * ldl]); a3_0 = Vector512.FusedMultiplyAdd(x, v0, a3_0); if (nv > 1) a3_1 = Vector512.FusedMultiplyAdd(x, v1, a3_1); }
            if (nr > 4) { var x = Vector512.Create(l[4 * ldl]); a4_0 = Vector512.FusedMultiplyAdd(x, v0, a4_0); if (nv > 1) a4_1 = Vector512.FusedMultiplyAdd(x, v1, a4_1); }
            if (nr > 5) { var x = Vector512.Create(l[5 * ldl]); a5_0 = Vector512.FusedMultiplyAdd(x, v0, a5_0); if (nv > 1) a5_1 = Vector512.FusedMultiplyAdd(x, v1, a5_1); }
            if (nr > 6) { var x = Vector512.Create(l[6 * ldl]); a6_0 = Vector512.FusedMultiplyAdd(x, v0, a6_0); if (nv > 1) a6_1 = Vector512.FusedMultiplyAdd(x, v1, a6_1); }
            if (nr > 7) { var x = Vector512.Create(l[7 * ldl]); a7_0 = Vector512.FusedMultiplyAdd(x, v0, a7_0); if (nv > 1) a7_1 = Vector512.FusedMultiplyAdd(x, v1, a7_1); }
            if (nr > 8) { var x = Vector512.Create(l[8 * ldl]); a8_0 = Vector512.FusedMultiplyAdd(x, v0, a8_0); if (nv > 1) a8_1 = Vector512.FusedMultiplyAdd(x, v1, a8_1); }
            if (nr > 9) { var x = Vector512.Create(l[9 * ldl]); a9_0 = Vector512.FusedMultiplyAdd(x, v0, a9_0); if (nv > 1) a9_1 = Vector512.FusedMultiplyAdd(x, v1, a9_1); }
            if (nr > 10) { var x = Vector512.Create(l[10 * ldl]); a10_0 = Vector512.FusedMultiplyAdd(x, v0, a10_0); if (nv > 1) a10_1 = Vector512.FusedMultiplyAdd(x, v1, a10_1); }
            if (nr > 11) { var x = Vector512.Create(l[11 * ldl]); a11_0 = Vector512.FusedMultiplyAdd(x, v0, a11_0); if (nv > 1) a11_1 = Vector512.FusedMultiplyAdd(x, v1, a11_1); }
        }
        Row(c + 0 * ldc, a0_0, a0_1, nv, alpha, beta);
        if (nr > 1) Row(c + 1 * ldc, a1_0, a1_1, nv, alpha, beta);
        if (nr > 2) Row(c + 2 * ldc, a2_0, a2_1, nv, alpha, beta);
        if (nr > 3) Row(c + 3 * ldc, a3_0, a3_1, nv, alpha, beta);
        if (nr > 4) Row(c + 4 * ldc, a4_0, a4_1, nv, alpha, beta);
        if (nr > 5) Row(c + 5 * ldc, a5_0, a5_1, nv, alpha, beta);
        if (nr > 6) Row(c + 6 * ldc, a6_0, a6_1, nv, alpha, beta);
        if (nr > 7) Row(c + 7 * ldc, a7_0, a7_1, nv, alpha, beta);
        if (nr > 8) Row(c + 8 * ldc, a8_0, a8_1, nv, alpha, beta);
        if (nr > 9) Row(c + 9 * ldc, a9_0, a9_1, nv, alpha, beta);
        if (nr > 10) Row(c + 10 * ldc, a10_0, a10_1, nv, alpha, beta);
        if (nr > 11) Row(c + 11 * ldc, a11_0, a11_1, nv, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row(float* c, Vector512<float> s0, Vector512<float> s1, int nv, float alpha, float beta)
    {
        OuterTiles.Put(c, s0, alpha, beta, stream: false);
        if (nv > 1) OuterTiles.Put(c + Lanes, s1, alpha, beta, stream: false);
    }
}
