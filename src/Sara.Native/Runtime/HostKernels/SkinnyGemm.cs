using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Sara.Native.Runtime.HostKernels;

/// <summary>
/// Row-major C = alpha op(A) op(B) + beta C for the GEMMs where one dimension is a rank (at most <see cref="MaxRank"/>):
/// the adapter's rank-k products (DESIGN 1.2). Measured on 2 Zen 5 cores with warm caches (T = 2048, n = m = 1024,
/// k = 32): 330-500 GFLOP/s here against 190-250 for OpenBLAS 0.3.21, whose kernels on this CPU are AVX2. Three forms,
/// each on an AVX-512 micro-kernel, split over the cores by output rows or columns only (never over the summed
/// dimension), so results are bitwise the same for any thread count:
/// <list type="bullet">
/// <item>expand, inner dimension k: C (M x N) = alpha L (M x k) R (k x N) + beta C (Y += s Z A^T, dX += dH B);</item>
/// <item>narrow, few output columns: C (M x k) = alpha L (M x K) op(B) + beta C (H = X B^T, dZ = G A);</item>
/// <item>reduce, summed over tokens: D (k x N) = alpha L^T M + beta D, L: T x k, M: T x N (dB = dH^T X;
/// dA = G^T Z through its transpose).</item>
/// </list>
/// Anything else returns false and goes to OpenBLAS. Floor: each operand read once from memory (see bench/README.md).
/// </summary>
public static unsafe class SkinnyGemm
{
    /// <summary>Largest rank dimension these kernels take; beyond it OpenBLAS's blocking wins.</summary>
    public const int MaxRank = 256;

    /// <summary>
    /// Largest k x n operand (floats) the expand and narrow forms keep in L2 (1 MiB) while they stream the large one;
    /// beyond it OpenBLAS's blocking wins (expand at k = 256, n = 4096 ran 0.92x OpenBLAS).
    /// </summary>
    private const long MaxPanel = 256 * 1024;

    private const int Lanes = OuterTiles.Lanes;
    private const int TokenChunk = 128;
    private const long SerialFlops = 1L << 21;

    /// <summary>True on CPUs with AVX-512F (the kernels' instruction set).</summary>
    public static bool IsSupported => Avx512F.IsSupported;

    /// <summary>
    /// Route rank-k GEMMs here (default on AVX-512 CPUs; SARA_CPU_SKINNY_GEMM=0 turns it off). Always false on a CPU
    /// without AVX-512F, whatever is set: every GEMM then goes to OpenBLAS.
    /// </summary>
    public static bool Enabled
    {
        get => _enabled;
        set => _enabled = value && IsSupported;
    }

    private static bool _enabled = IsSupported && Environment.GetEnvironmentVariable("SARA_CPU_SKINNY_GEMM") != "0";

    /// <summary>Most threads one call uses (default: the logical cores). Results do not depend on it.</summary>
    public static int MaxThreads
    {
        get => _maxThreads;
        set => _maxThreads = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "At least one thread.");
    }

    private static int _maxThreads = Environment.ProcessorCount;

    /// <summary>Runs the GEMM if its shape is one of the three forms; false leaves C untouched.</summary>
    public static bool TryRun(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, nint b, int ldb,
        float beta, nint c, int ldc)
    {
        if (!Enabled || m <= 0 || n <= 0 || k <= 0) return false;
        float* pa = (float*)a, pb = (float*)b, pc = (float*)c;
        // Expand when the shared dimension is the short one (a rank-k update of a wide C); narrow when C is the narrow one.
        if (!transA && k <= MaxRank && (long)k * n <= MaxPanel && (k <= n || n > MaxRank))
        {
            if (!transB) Expand(pa, lda, pb, ldb, pc, ldc, m, n, k, alpha, beta);
            else WithTranspose(pb, ldb, n, k, r => Expand(pa, lda, (float*)r, n, pc, ldc, m, n, k, alpha, beta));
            return true;
        }
        if (!transA && n <= MaxRank && (long)k * n <= MaxPanel)
        {
            Narrow(pa, lda, pb, ldb, transB, pc, ldc, m, n, k, alpha, beta);
            return true;
        }
        // Reduce: the small side of C becomes the broadcast rows, the other side the vector columns.
        if (transA && !transB && m <= MaxRank && (m <= n || n > MaxRank))
        {
            Reduce(pa, lda, pb, ldb, pc, ldc, m, n, k, alpha, beta);
            return true;
        }
        if (transA && !transB && n <= MaxRank)
        {
            // C = alpha A^T B with C tall and thin: form D = B^T A (n x m, the reduce form), then C = alpha D^T + beta C.
            var d = (float*)NativeMemory.AlignedAlloc((nuint)((long)n * m * sizeof(float)), 64);
            try
            {
                Reduce(pb, ldb, pa, lda, d, m, n, m, k, 1f, 0f);
                for (var i = 0; i < m; i++)
                for (var j = 0; j < n; j++)
                {
                    var dst = pc + (nint)i * ldc + j;
                    *dst = beta == 0f ? alpha * d[(nint)j * m + i] : alpha * d[(nint)j * m + i] + beta * *dst;
                }
            }
            finally { NativeMemory.AlignedFree(d); }
            return true;
        }
        return false;
    }

    /// <summary>C (m x n) = alpha L (m x k) R (k x n) + beta C; split by rows.</summary>
    private static void Expand(float* l, nint ldl, float* r, nint ldr, float* c, nint ldc, int m, int n, int k,
        float alpha, float beta)
    {
        var (nl, nr, nc) = ((nint)l, (nint)r, (nint)c);
        var parts = Parts(2L * m * n * k, m / 4);
        ForParts(parts, p =>
        {
            var (i0, i1) = Split(m, parts, p, 4);
            float* lp = (float*)nl, rp = (float*)nr, cp = (float*)nc;
            var full = n - n % Lanes;
            var stream = StreamsOutput(nc, ldc, (long)m * n, beta);
            // Rows outer: C streams through once, row block by row block (column strips outer ran 2x slower once C
            // came from memory); R (k x n) stays in L2.
            for (var i = i0; i < i1; i += 4)
            for (var col = 0; col < full; col += 6 * Lanes)
                OuterTiles.Run(Math.Min(4, i1 - i), Math.Min(6, (full - col) / Lanes), lp + i * ldl, ldl, 1, rp + col, ldr, k,
                    cp + i * ldc + col, ldc, alpha, beta, stream);
            if (full < n)
                OuterTiles.ScalarColumns(i1 - i0, full, n, lp + i0 * ldl, ldl, 1, rp, ldr, k, cp + i0 * ldc, ldc, alpha, beta);
            if (stream) Sse.StoreFence(); // non-temporal stores are weakly ordered: drain them before the part counts as done
        });
    }

    /// <summary>
    /// Whether the expand form writes C with non-temporal stores: C is write-only (beta = 0), 64-byte aligned rows, and
    /// larger than the caches want to hold (over 4 MiB; Y and dX of a layer). It then skips reading each line before
    /// writing it. Measured with OpenBLAS's AVX-512 GEMMs: SARA and Mo-SARA fwd+bwd 1-1.5% faster at
    /// (2048, 1024, 1024, 32), no change at the other shapes or with the AVX2 GEMMs.
    /// </summary>
    public static bool StreamsOutput(nint c, nint ldc, long elements, float beta) =>
        beta == 0f && (c & 63) == 0 && ldc % Lanes == 0 && elements > StreamElements;

    private const long StreamElements = 1L << 20;

    /// <summary>
    /// C (m x n) = alpha L (m x k) op(B) + beta C for few output columns and a long shared dimension (H = X B^T,
    /// dZ = G A): op(B) packed as k x n16 (n rounded up to 16, zero columns), tall tiles of 12 rows x 32 columns,
    /// split by rows. When n is not a multiple of 16 the tiles write a padded scratch C and only n columns are kept.
    /// </summary>
    private static void Narrow(float* l, nint ldl, float* b, nint ldb, bool transB, float* c, nint ldc, int m, int n, int k,
        float alpha, float beta)
    {
        var n16 = (n + Lanes - 1) / Lanes * Lanes;
        var packed = transB || n16 != n;
        var r = packed ? (float*)NativeMemory.AlignedAlloc((nuint)((long)k * n16 * sizeof(float)), 64) : b;
        var direct = n16 == n;
        var scratch = direct ? null : (float*)NativeMemory.AlignedAlloc((nuint)((long)m * n16 * sizeof(float)), 64);
        try
        {
            var ldr = packed ? n16 : ldb;
            if (packed)
            {
                // The padding columns are zero.
                if (transB) Transpose(b, ldb, n, k, r, n16);
                else
                    for (var p = 0; p < k; p++)
                        new ReadOnlySpan<float>(b + p * ldb, n).CopyTo(new Span<float>(r + (nint)p * n16, n));
                for (var p = 0; p < k; p++) new Span<float>(r + (nint)p * n16 + n, n16 - n).Clear();
            }
            var (nl, nr, nc) = ((nint)l, (nint)r, (nint)(direct ? c : scratch));
            var ldo = direct ? ldc : n16;
            var (a0, b0) = direct ? (alpha, beta) : (1f, 0f);
            var parts = Parts(2L * m * n16 * k, (m + TallTiles.Rows - 1) / TallTiles.Rows);
            ForParts(parts, p =>
            {
                var (i0, i1) = Split(m, parts, p, TallTiles.Rows);
                float* lp = (float*)nl, rp = (float*)nr, cp = (float*)nc;
                for (var i = i0; i < i1; i += TallTiles.Rows)
                for (var col = 0; col < n16; col += 2 * Lanes)
                    TallTiles.Run(Math.Min(TallTiles.Rows, i1 - i), Math.Min(2, (n16 - col) / Lanes), lp + i * ldl, ldl,
                        rp + col, ldr, k, cp + i * ldo + col, ldo, a0, b0);
            });
            if (!direct)
                for (var i = 0; i < m; i++)
                {
                    var src = new ReadOnlySpan<float>(scratch + (nint)i * n16, n);
                    var dst = new Span<float>(c + (nint)i * ldc, n);
                    if (beta != 0f) TensorPrimitives.Multiply(dst, beta, dst);
                    if (beta == 0f) TensorPrimitives.Multiply(src, alpha, dst);
                    else TensorPrimitives.MultiplyAdd(src, alpha, dst, dst);
                }
        }
        finally
        {
            if (packed) NativeMemory.AlignedFree(r);
            if (scratch is not null) NativeMemory.AlignedFree(scratch);
        }
    }

    /// <summary>D (rows x n) = alpha L^T M + beta D with L: t x rows, M: t x n; split by columns, tokens in chunks.</summary>
    private static void Reduce(float* l, nint ldl, float* mm, nint ldm, float* d, nint ldd, int rows, int n, int t,
        float alpha, float beta)
    {
        var (nl, nm, nd) = ((nint)l, (nint)mm, (nint)d);
        var full = n - n % Lanes;
        var parts = Parts(2L * rows * n * t, (full / Lanes + 5) / 6);
        ForParts(parts, p =>
        {
            // Parts of whole 96-column tiles where possible (a narrower tile wastes loads).
            var (c0, c1) = Split(full / Lanes, parts, p, 6);
            (c0, c1) = (c0 * Lanes, c1 * Lanes);
            float* lp = (float*)nl, mp = (float*)nm, dp = (float*)nd;
            for (var t0 = 0; t0 < t; t0 += TokenChunk)
            {
                var steps = Math.Min(TokenChunk, t - t0);
                var b = t0 == 0 ? beta : 1f;
                for (var col = c0; col < c1; col += 6 * Lanes)
                {
                    var vectors = Math.Min(6, (c1 - col) / Lanes);
                    for (var j = 0; j < rows; j += 4)
                        OuterTiles.Run(Math.Min(4, rows - j), vectors, lp + t0 * ldl + j, 1, ldl, mp + t0 * ldm + col, ldm,
                            steps, dp + j * ldd + col, ldd, alpha, b);
                }
            }
            if (p == parts - 1 && full < n)
                OuterTiles.ScalarColumns(rows, full, n, lp, 1, ldl, mp, ldm, t, dp, ldd, alpha, beta);
        });
    }

    /// <summary>Runs body on the transpose (cols x rows, dense) of a rows x cols matrix.</summary>
    private static void WithTranspose(float* src, nint lds, int rows, int cols, Action<nint> body)
    {
        var dst = (float*)NativeMemory.AlignedAlloc((nuint)((long)rows * cols * sizeof(float)), 64);
        try
        {
            Transpose(src, lds, rows, cols, dst, rows);
            body((nint)dst);
        }
        finally { NativeMemory.AlignedFree(dst); }
    }

    /// <summary>dst[j, i] = src[i, j] for a rows x cols src; dst has leading dimension ldd.</summary>
    private static void Transpose(float* src, nint lds, int rows, int cols, float* dst, nint ldd)
    {
        // 16 x 16 blocks: each touches 16 source and 16 destination cache lines, whichever side is long. Walking a whole
        // column at once strides by whole rows, which aliases in L1 when rows are 1024 floats: the 32 x 1024 pack of
        // H = X B^T took 55 us that way, 20 us in blocks.
        const int block = 16;
        for (var i0 = 0; i0 < rows; i0 += block)
        for (var j0 = 0; j0 < cols; j0 += block)
        {
            int iEnd = Math.Min(rows, i0 + block), jEnd = Math.Min(cols, j0 + block);
            for (var i = i0; i < iEnd; i++)
            for (var j = j0; j < jEnd; j++)
                dst[j * ldd + i] = src[i * lds + j];
        }
    }

    /// <summary>
    /// How many parts to cut the output into: one below ~2 MFLOP, else several per thread, so a worker that starts late
    /// takes fewer parts instead of leaving the caller to run half of them. Parts are fixed by shape, not by timing.
    /// </summary>
    private static int Parts(long flops, int units) =>
        flops < SerialFlops ? 1 : Math.Max(1, Math.Min(units, PartsPerThread * _maxThreads));

    private const int PartsPerThread = 8;

    /// <summary>Part p of [0, count) in multiples of align (the last part takes the rest).</summary>
    private static (int From, int To) Split(int count, int parts, int p, int align)
    {
        var per = (count / parts + align - 1) / align * align;
        var from = Math.Min(count, p * per);
        return (from, p == parts - 1 ? count : Math.Min(count, from + per));
    }

    private static void ForParts(int parts, Action<int> body) => KernelThreads.Run(parts, _maxThreads, body);
}
