using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sara.Native.Runtime.HostKernels;

/// <summary>
/// Outer-product micro-kernel (AVX-512): for a tile of up to 4 rows x 6 vectors (96 columns) of C,
/// acc[i] = sum over s of l[i * lRow + s * lStep] * (row s of R), then C = alpha * acc + beta * C.
/// Per step: up to 4 broadcasts and 6 loads feed 24 FMAs into 24 zmm accumulators.
/// The same tile serves a rank-k update (C += L R, s runs over k: lRow = ldl, lStep = 1) and a reduction over tokens
/// (D += L^T M, s runs over T: lRow = 1, lStep = ldl). beta = 0 never reads C (it may hold NaN).
/// </summary>
internal static unsafe class OuterTiles
{
    public const int Lanes = 16;

    /// <summary>
    /// Runs the rows x vectors tile chosen at run time (rows 1..4, vectors 1..6 of 16 columns). stream: write C with
    /// non-temporal stores (only with beta = 0 and 64-byte aligned C; the caller fences, see SkinnyGemm.StreamsOutput).
    /// </summary>
    public static void Run(int rows, int vectors, float* l, nint lRow, nint lStep, float* r, nint rStep, int steps,
        float* c, nint ldc, float alpha, float beta, bool stream = false)
    {
        switch (rows)
        {
            case 4: Vectors<Size4>(vectors, l, lRow, lStep, r, rStep, steps, c, ldc, alpha, beta, stream); break;
            case 3: Vectors<Size3>(vectors, l, lRow, lStep, r, rStep, steps, c, ldc, alpha, beta, stream); break;
            case 2: Vectors<Size2>(vectors, l, lRow, lStep, r, rStep, steps, c, ldc, alpha, beta, stream); break;
            default: Vectors<Size1>(vectors, l, lRow, lStep, r, rStep, steps, c, ldc, alpha, beta, stream); break;
        }
    }

    private static void Vectors<TRows>(int vectors, float* l, nint lRow, nint lStep, float* r, nint rStep, int steps,
        float* c, nint ldc, float alpha, float beta, bool stream) where TRows : struct, ITileSize
    {
        switch (vectors)
        {
            case 6: Tile<TRows, Size6>(l, lRow, lStep, r, rStep, steps, c, ldc, alpha, beta, stream); break;
            case 5: Tile<TRows, Size5>(l, lRow, lStep, r, rStep, steps, c, ldc, alpha, beta, stream); break;
            case 4: Tile<TRows, Size4>(l, lRow, lStep, r, rStep, steps, c, ldc, alpha, beta, stream); break;
            case 3: Tile<TRows, Size3>(l, lRow, lStep, r, rStep, steps, c, ldc, alpha, beta, stream); break;
            case 2: Tile<TRows, Size2>(l, lRow, lStep, r, rStep, steps, c, ldc, alpha, beta, stream); break;
            default: Tile<TRows, Size1>(l, lRow, lStep, r, rStep, steps, c, ldc, alpha, beta, stream); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows, TVectors>(float* l, nint lRow, nint lStep, float* r, nint rStep, int steps,
        float* c, nint ldc, float alpha, float beta, bool stream) where TRows : struct, ITileSize where TVectors : struct, ITileSize
    {
        int nr = TRows.Value, nv = TVectors.Value;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a04 = default, a05 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default, a14 = default, a15 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a24 = default, a25 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default, a34 = default, a35 = default;
        for (var s = 0; s < steps; s++, l += lStep, r += rStep)
        {
            var v0 = Vector512.Load(r);
            var v1 = nv > 1 ? Vector512.Load(r + Lanes) : default;
            var v2 = nv > 2 ? Vector512.Load(r + 2 * Lanes) : default;
            var v3 = nv > 3 ? Vector512.Load(r + 3 * Lanes) : default;
            var v4 = nv > 4 ? Vector512.Load(r + 4 * Lanes) : default;
            var v5 = nv > 5 ? Vector512.Load(r + 5 * Lanes) : default;
            var x = Vector512.Create(l[0]);
            a00 = Vector512.FusedMultiplyAdd(x, v0, a00);
            if (nv > 1) a01 = Vector512.FusedMultiplyAdd(x, v1, a01);
            if (nv > 2) a02 = Vector512.FusedMultiplyAdd(x, v2, a02);
            if (nv > 3) a03 = Vector512.FusedMultiplyAdd(x, v3, a03);
            if (nv > 4) a04 = Vector512.FusedMultiplyAdd(x, v4, a04);
            if (nv > 5) a05 = Vector512.FusedMultiplyAdd(x, v5, a05);
            if (nr > 1)
            {
                x = Vector512.Create(l[lRow]);
                a10 = Vector512.FusedMultiplyAdd(x, v0, a10);
                if (nv > 1) a11 = Vector512.FusedMultiplyAdd(x, v1, a11);
                if (nv > 2) a12 = Vector512.FusedMultiplyAdd(x, v2, a12);
                if (nv > 3) a13 = Vector512.FusedMultiplyAdd(x, v3, a13);
                if (nv > 4) a14 = Vector512.FusedMultiplyAdd(x, v4, a14);
                if (nv > 5) a15 = Vector512.FusedMultiplyAdd(x, v5, a15);
            }
            if (nr > 2)
            {
                x = Vector512.Create(l[2 * lRow]);
                a20 = Vector512.FusedMultiplyAdd(x, v0, a20);
                if (nv > 1) a21 = Vector512.FusedMultiplyAdd(x, v1, a21);
                if (nv > 2) a22 = Vector512.FusedMultiplyAdd(x, v2, a22);
                if (nv > 3) a23 = Vector512.FusedMultiplyAdd(x, v3, a23);
                if (nv > 4) a24 = Vector512.FusedMultiplyAdd(x, v4, a24);
                if (nv > 5) a25 = Vector512.FusedMultiplyAdd(x, v5, a25);
            }
            if (nr > 3)
            {
                x = Vector512.Create(l[3 * lRow]);
                a30 = Vector512.FusedMultiplyAdd(x, v0, a30);
                if (nv > 1) a31 = Vector512.FusedMultiplyAdd(x, v1, a31);
                if (nv > 2) a32 = Vector512.FusedMultiplyAdd(x, v2, a32);
                if (nv > 3) a33 = Vector512.FusedMultiplyAdd(x, v3, a33);
                if (nv > 4) a34 = Vector512.FusedMultiplyAdd(x, v4, a34);
                if (nv > 5) a35 = Vector512.FusedMultiplyAdd(x, v5, a35);
            }
        }
        Row(c, a00, a01, a02, a03, a04, a05, nv, alpha, beta, stream);
        if (nr > 1) Row(c + ldc, a10, a11, a12, a13, a14, a15, nv, alpha, beta, stream);
        if (nr > 2) Row(c + 2 * ldc, a20, a21, a22, a23, a24, a25, nv, alpha, beta, stream);
        if (nr > 3) Row(c + 3 * ldc, a30, a31, a32, a33, a34, a35, nv, alpha, beta, stream);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row(float* c, Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, Vector512<float> s3,
        Vector512<float> s4, Vector512<float> s5, int nv, float alpha, float beta, bool stream)
    {
        Put(c, s0, alpha, beta, stream);
        if (nv > 1) Put(c + Lanes, s1, alpha, beta, stream);
        if (nv > 2) Put(c + 2 * Lanes, s2, alpha, beta, stream);
        if (nv > 3) Put(c + 3 * Lanes, s3, alpha, beta, stream);
        if (nv > 4) Put(c + 4 * Lanes, s4, alpha, beta, stream);
        if (nv > 5) Put(c + 5 * Lanes, s5, alpha, beta, stream);
    }

    /// <summary>C = alpha acc + beta C for one vector (beta = 0 never reads C); the store shared by both tile families.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Put(float* c, Vector512<float> acc, float alpha, float beta, bool stream)
    {
        var v = acc * alpha;
        if (stream) { Avx512F.StoreAlignedNonTemporal(c, v); return; }
        if (beta != 0f) v = Vector512.FusedMultiplyAdd(Vector512.Load(c), Vector512.Create(beta), v);
        v.Store(c);
    }

    /// <summary>
    /// Columns [from, to) (fewer than a vector's worth) in scalar code, same contract: C[i, j] = alpha * sum_s
    /// l[i * lRow + s * lStep] * r[s * rStep + j] + beta * C[i, j] for i below rows.
    /// </summary>
    public static void ScalarColumns(int rows, int from, int to, float* l, nint lRow, nint lStep, float* r, nint rStep,
        int steps, float* c, nint ldc, float alpha, float beta)
    {
        for (var i = 0; i < rows; i++)
        for (var j = from; j < to; j++)
        {
            var s = 0f;
            for (var t = 0; t < steps; t++) s += l[i * lRow + t * lStep] * r[t * rStep + j];
            var dst = c + i * ldc + j;
            *dst = beta == 0f ? alpha * s : alpha * s + beta * *dst;
        }
    }
}
