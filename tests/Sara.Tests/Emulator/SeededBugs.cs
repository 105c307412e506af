// The seeded bugs: each is one textual change to a real kernel file (kernels/*.cu or common.cuh), the class of
// diagnostic the emulator's sanitizer must give for it, the kernel it must name, and the backend op (or launch)
// that exercises it. SeededBugTests builds each into a module at test time (MutantModules) and runs it.
using System.Text.RegularExpressions;
using Sara.Native.Backends;
using Sara.Native.Runtime;
using Sara.Native.Tensors;
using Sara.Tests.Support;

namespace Sara.Tests.Emulator;

/// <param name="Name">Short id (the test case name and the module's file name).</param>
/// <param name="Class">memcheck, racecheck, initcheck or synccheck: the diagnostic's first word.</param>
/// <param name="Kernel">The kernel the diagnostic must name.</param>
/// <param name="Cu">The kernel file compiled into the module.</param>
/// <param name="File">The file changed: Cu itself, or common.cuh.</param>
/// <param name="Find">The original text (whitespace runs match any whitespace); it must occur exactly once.</param>
/// <param name="Replace">What it becomes.</param>
/// <param name="Exercise">Runs the op that launches the kernel, on shapes that reach the bug.</param>
public sealed record SeededBug(string Name, string Class, string Kernel, string Cu, string File, string Find, string Replace,
    Action<Backend, Rand> Exercise)
{
    public override string ToString() => Name;

    /// <summary>The mutated text of File; fails when the anchor is missing or ambiguous (the kernel changed: re-seed it).</summary>
    public string Apply(string original)
    {
        var pattern = string.Join(@"\s+", Find.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Select(Regex.Escape));
        var matches = Regex.Matches(original, pattern);
        if (matches.Count != 1)
            throw new InvalidOperationException($"seeded bug {Name}: its anchor occurs {matches.Count} times in {File} (must be once): " +
                $"the kernel changed, re-seed the bug in the current code. Anchor: {Find}");
        return original[..matches[0].Index] + Replace + original[(matches[0].Index + matches[0].Length)..];
    }
}

public static class SeededBugs
{
    public static readonly SeededBug[] All =
    [
        // ---- the five bugs of issue 10's table -------------------------------------------------------------
        new("svd-cholesky-maxdiag-barrier", "racecheck", "sara_svd_cholesky", "svd.cu", "svd.cu",
            "maxdiag_s = mx;\n    }\n    __syncthreads();", "maxdiag_s = mx;\n    }",
            (b, r) => Cholesky(b, r, 40)),
        // Issue 12 rewrote the kernels of three rows; each bug is re-seeded in the code that now does the job:
        // the L-tile load is lr_fetch of the split-K partial (rows t >= T of a ragged T read past X), the column sum
        // stages its 8 warps' sums in red[8][..] for warp 0, and sara_warp_sum now serves the router (softmax over
        // experts); svd_block_sums128 remains in sara_svd_normalize_rows (the Jacobi step gave way to Gram + syevd).
        new("lowrank-ltile-bounds", "memcheck", "sara_lowrank_fwd_partial_k16", "lowrank.cu", "lowrank.cu",
            "lr[q] = (t >= T || i >= d) ? lr_zero4() : vec ? sara_load4<TL>(L, o) : lr_ld4_tail<TL>(L, o, d - i);",
            "lr[q] = vec ? sara_load4<TL>(L, o) : lr_ld4_tail<TL>(L, o, d - i);",
            (b, r) => LowRankForward(b, r, 70, 45, 5)),
        new("reduce-column-sum-syncwarp", "racecheck", "sara_column_sum", "reduce.cu", "reduce.cu",
            "red[warp][lane * V + v] = sum[v];\n    __syncthreads();", "red[warp][lane * V + v] = sum[v];\n    __syncwarp();",
            (b, r) => ColumnSum(b, r, 40, 40)),
        new("common-warp-sum-mask", "synccheck", "sara_routing_fwd", "routing.cu", "common.cuh",
            "v += __shfl_xor_sync(SARA_FULL_MASK, v, o);", "v += __shfl_xor_sync(0x0000ffffu, v, o);",
            (b, r) => Router(b, r, 20, 6, 40, 2)),
        new("svd-block-sums-second-barrier", "racecheck", "sara_svd_normalize_rows", "svd.cu", "svd.cu",
            "totals[threadIdx.x] = t;\n    }\n    __syncthreads();", "totals[threadIdx.x] = t;\n    }",
            (b, r) => SmallSvd(b, r, 6, 300)),

        // ---- missing barriers and cross-warp races ----------------------------------------------------------
        new("reduce-sum-partials-tree-barrier", "racecheck", "sara_sum_partials", "reduce.cu", "reduce.cu",
            "red[threadIdx.x] += red[threadIdx.x + width];\n        __syncthreads();\n    }\n    if (threadIdx.x == 0) out[0]",
            "red[threadIdx.x] += red[threadIdx.x + width];\n    }\n    if (threadIdx.x == 0) out[0]",
            (b, r) => Mse(b, r, 1000)),
        new("losses-mse-first-barrier", "racecheck", "sara_mse_fwd_bwd", "losses.cu", "losses.cu",
            "red[threadIdx.x] = sum;\n    __syncthreads();", "red[threadIdx.x] = sum;",
            (b, r) => Mse(b, r, 1000)),
        new("losses-mse-tree-syncwarp", "racecheck", "sara_mse_fwd_bwd", "losses.cu", "losses.cu",
            "red[threadIdx.x] += red[threadIdx.x + width];\n        __syncthreads();",
            "red[threadIdx.x] += red[threadIdx.x + width];\n        __syncwarp();",
            (b, r) => Mse(b, r, 1000)),
        new("routing-bwd-params-stage-barrier", "racecheck", "sara_routing_bwd_params", "routing.cu", "routing.cu",
            "sDp[tt][e] = dP[o];\n        }\n        __syncthreads();", "sDp[tt][e] = dP[o];\n        }",
            (b, r) => Router(b, r, 100, 6, 40, 2)),
        new("routing-bwd-params-loop-barrier", "racecheck", "sara_routing_bwd_params", "routing.cu", "routing.cu",
            "accWg[r] = fmaf(sDp[tt][e], hv, accWg[r]);\n }\n }\n }\n __syncthreads();",
            "accWg[r] = fmaf(sDp[tt][e], hv, accWg[r]);\n }\n }\n }",
            (b, r) => RouterParams(b, r, 80, 6, 40, 40)),

        // ---- barriers in divergent code ---------------------------------------------------------------------
        new("svd-cholesky-divergent-barrier", "synccheck", "sara_svd_cholesky", "svd.cu", "svd.cu",
            "maxdiag_s = mx;\n    }\n    __syncthreads();", "maxdiag_s = mx;\n        __syncthreads();\n    }",
            (b, r) => Cholesky(b, r, 40)),
        new("routing-bwd-params-divergent-barrier", "synccheck", "sara_routing_bwd_params", "routing.cu", "routing.cu",
            "accWg[r] = fmaf(sDp[tt][e], hv, accWg[r]);\n }\n }\n }\n __syncthreads();",
            "accWg[r] = fmaf(sDp[tt][e], hv, accWg[r]);\n }\n }\n }\n if (warp < 4) __syncthreads();",
            (b, r) => RouterParams(b, r, 80, 6, 40, 40)),
        new("svd-block-sums-divergent-barrier", "synccheck", "sara_svd_normalize_rows", "svd.cu", "svd.cu",
            "red[q][threadIdx.x] = v[q];\n    __syncthreads();", "red[q][threadIdx.x] = v[q];\n    if (threadIdx.x < count) __syncthreads();",
            (b, r) => SmallSvd(b, r, 6, 50)),

        // ---- wrong shuffle masks ----------------------------------------------------------------------------
        new("routing-top-k-shuffle-mask", "synccheck", "sara_routing_fwd", "routing.cu", "routing.cu",
            "const float q = __shfl_sync(SARA_FULL_MASK, p0, s);", "const float q = __shfl_sync(0x7fffffffu, p0, s);",
            (b, r) => Router(b, r, 20, 6, 40, 2)),

        // ---- out of bounds at a ragged edge (global and shared) ---------------------------------------------
        new("losses-softmax-row-guard", "memcheck", "sara_softmax_xent", "losses.cu", "losses.cu",
            "if (t >= T) return;", "if (t > T) return;",
            (b, r) => SoftmaxCrossEntropy(b, r, 13, 9)),
        new("lowrank-fwd-rank-edge", "memcheck", "sara_lowrank_fwd_finish", "lowrank.cu", "lowrank.cu",
            "if (j >= k) return;   // no barrier in this kernel", "if (j > k) return;   // no barrier in this kernel",
            (b, r) => LowRankForward(b, r, 20, 33, 5)),
        new("elementwise-bias-column-edge", "memcheck", "sara_add_row_vector", "elementwise.cu", "elementwise.cu",
            "y[i] += b[i % cols];", "y[i] += b[i % cols + 1];",
            (b, r) => AddRowVector(b, r, 3, 10)),
        new("lowrank-bwd-shared-edge", "memcheck", "sara_lowrank_bwd_finish", "lowrank.cu", "lowrank.cu",
            "for (int y = 0; y < (int)blockDim.y; y++)", "for (int y = 0; y <= (int)blockDim.y; y++)",
            (b, r) => LowRankBackward(b, r, 50, 40, 7)),

        // ---- uninitialised shared reads ---------------------------------------------------------------------
        new("svd-sum-pair-uninitialised", "initcheck", "sara_svd_sum_squares", "svd.cu", "svd.cu",
            "bad_s[threadIdx.x] = bad;\n    __syncthreads();", "__syncthreads();",
            (b, r) => SumOfSquares(b, r, 3000)),
        new("losses-mse-half-written", "initcheck", "sara_mse_fwd_bwd", "losses.cu", "losses.cu",
            "red[threadIdx.x] = sum;\n    __syncthreads();", "if (threadIdx.x < 128) red[threadIdx.x] = sum;\n    __syncthreads();",
            (b, r) => Mse(b, r, 1000)),

        // ---- off by one in a grid-stride loop ---------------------------------------------------------------
        new("elementwise-axpby-grid-stride", "memcheck", "sara_axpby", "elementwise.cu", "elementwise.cu",
            "i < n; i += (long)gridDim.x * blockDim.x)\n        y[i] = a * x[i]", "i <= n; i += (long)gridDim.x * blockDim.x)\n        y[i] = a * x[i]",
            (b, r) => Axpby(b, r, 1000)),
        new("adamw-grid-stride", "memcheck", "sara_adamw_batch", "adamw.cu", "adamw.cu",
            "e < end; e += 128)", "e <= end; e += 128)",
            (b, r) => AdamW(b, r, 300)),
        new("convert-grid-stride", "memcheck", "sara_convert_f32_bf16", "convert.cu", "convert.cu",
            "i < n; i += (long)gridDim.x * blockDim.x)", "i <= n; i += (long)gridDim.x * blockDim.x)",
            (b, r) => Convert(b, r, 37, 29)),
        new("svd-sum-squares-grid-stride", "memcheck", "sara_svd_sum_squares", "svd.cu", "svd.cu",
            "i < len; i += stride)", "i <= len; i += stride)",
            (b, r) => SumOfSquares(b, r, 3000)),
    ];

    // ---- exercises: the backend ops, on small ragged shapes --------------------------------------------------
    private static Tensor Normal(Backend b, Rand r, params int[] shape) => b.FromArray(r.Normal(shape.Aggregate(1, (x, y) => x * y)), shape);

    private static void Cholesky(Backend b, Rand r, int n)
    {
        var m = r.Normal(n * n);
        var a = new float[n * n];
        for (var i = 0; i < n; i++)
            for (var j = 0; j < n; j++)
            {
                double s = i == j ? 1 : 0;
                for (var k = 0; k < n; k++) s += (double)m[i * n + k] * m[j * n + k] / n;
                a[i * n + j] = (float)s;
            }
        using var at = b.FromArray(a, n, n);
        using var l = b.Empty(n, n);
        b.Cholesky(at, l);
    }

    private static void LowRankForward(Backend b, Rand r, int t, int n, int k)
    {
        using var x = Normal(b, r, t, n);
        using var bt = Normal(b, r, k, n);
        using var lambda = Normal(b, r, k);
        using var h = b.Empty(t, k);
        using var z = b.Empty(t, k);
        b.LowRankForward(x, bt, lambda, h, z);
    }

    private static void LowRankBackward(Backend b, Rand r, int t, int m, int k)
    {
        using var g = Normal(b, r, t, m);
        using var a = Normal(b, r, m, k);
        using var h = Normal(b, r, t, k);
        using var lambda = Normal(b, r, k);
        using var dz = b.Empty(t, k);
        using var dh = b.Empty(t, k);
        using var dlambda = b.Empty(k);
        b.LowRankBackwardRank(g, a, h, lambda, 0.5f, dz, dh, dlambda);
    }

    private static void ColumnSum(Backend b, Rand r, int rows, int cols)
    {
        using var x = Normal(b, r, rows, cols);
        using var sum = b.Empty(cols);
        b.ColumnSum(x, sum);
    }

    private static void Mse(Backend b, Rand r, int n)
    {
        using var pred = Normal(b, r, n);
        using var target = Normal(b, r, n);
        using var grad = b.Empty(n);
        b.MseLoss(pred, target, grad);
    }

    private static void SoftmaxCrossEntropy(Backend b, Rand r, int t, int c)
    {
        using var logits = Normal(b, r, t, c);
        using var grad = b.Empty(t, c);
        var labels = Enumerable.Range(0, t).Select(_ => r.Int(0, c)).ToArray();
        b.SoftmaxCrossEntropy(logits, labels, grad);
    }

    private static void Axpby(Backend b, Rand r, int n)
    {
        using var x = Normal(b, r, n);
        using var y = Normal(b, r, n);
        b.Axpby(0.5f, x, 2f, y);
    }

    private static void Convert(Backend b, Rand r, int rows, int cols)
    {
        using var x = Normal(b, r, rows, cols);
        using var y = b.Empty(DType.BF16, rows, cols);
        b.Convert(x, y);
    }

    private static void AddRowVector(Backend b, Rand r, int rows, int cols)
    {
        using var y = Normal(b, r, rows, cols);
        using var bias = Normal(b, r, cols);
        b.AddRowVector(y, bias);
    }

    private static void AdamW(Backend b, Rand r, int n)
    {
        using var p = Normal(b, r, n);
        using var g = Normal(b, r, n);
        using var m = b.Zeros(n);
        using var v = b.Zeros(n);
        b.AdamW(p, g, m, v, new AdamWOptions(), 1);
    }

    private static void Router(Backend b, Rand r, int t, int e, int k, int topK)
    {
        using var h = Normal(b, r, t, k);
        using var wg = Normal(b, r, e, k);
        using var bg = Normal(b, r, e);
        using var lambdas = Normal(b, r, e, k);
        using var gates = b.Empty(t, e);
        using var lamEff = b.Empty(t, k);
        using var z = b.Empty(t, k);
        b.RoutingForward(h, wg, bg, lambdas, topK, gates, lamEff, z);
        using var dz = Normal(b, r, t, k);
        using var dh = b.Empty(t, k);
        using var dLambdas = b.Empty(e, k);
        using var dWg = b.Empty(e, k);
        using var dbg = b.Empty(e);
        b.RoutingBackward(dz, h, wg, lambdas, gates, lamEff, topK, 0.01f, dh, dLambdas, dWg, dbg);
    }

    // sara_routing_bwd_params launched directly with `chunk` tokens per block: the backend picks chunk from (T, k) and
    // gives a block more than one 32-token stage only from T = 561 at k = 512 (4356 at k = 64) on, and the loop's
    // barriers matter only from the second stage on.
    private static void RouterParams(Backend b, Rand r, int t, int e, int k, int chunk)
    {
        var runtime = ((CudaBackend)b).Runtime;
        using var dz = Normal(b, r, t, k);
        using var h = Normal(b, r, t, k);
        using var gates = Normal(b, r, t, e);
        using var dp = Normal(b, r, t, e);
        var chunks = (t + chunk - 1) / chunk;
        using var lamPart = b.Empty(chunks, e * k);
        using var wgPart = b.Empty(chunks, e * k);
        Sara.Native.Backends.Kernels.SaraRoutingBwdParams(runtime, new Dim3((uint)((k + 31) / 32), (uint)chunks), 256, 0, dz, h, gates, dp, lamPart, wgPart,
            t, e, k, chunk);
    }

    private static void SumOfSquares(Backend b, Rand r, int len)
    {
        using var x = Normal(b, r, len);
        b.SumOfSquares(x);
    }

    private static void SmallSvd(Backend b, Rand r, int l, int n)
    {
        using var bt = Normal(b, r, l, n);
        using var s = b.Empty(l);
        using var u = b.Empty(l, l);
        using var vt = b.Empty(l, n);
        b.SmallSvd(bt, s, u, vt);
    }
}
