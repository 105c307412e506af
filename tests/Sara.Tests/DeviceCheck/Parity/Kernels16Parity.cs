// Kernels16Parity.cs — the kernel ops that take 16-bit operands (issue 13, phase B) against float64 oracles fed the same
// 16-bit values, with NaN-poisoned outputs and fresh random ragged inputs: the rank-k products with a bf16 / f16 X or G
// (and Mo-SARA's frozen 16-bit A), column sums of a 16-bit x, axpby over every pair of dtypes, and a bias added into a
// 16-bit y. float32 outputs are held to 1e-5 (fp32 accumulation), 16-bit outputs to one rounding (bf16 4e-3, f16 5e-4).
// Used by MixedPrecision/Kernels16Tests (cpu, emu) and by bench/Sara.DeviceCheck on a real GPU (ParityCatalog).
using Sara.Native.Backends;
using Sara.Native.Tensors;
using Sara.Tests.Support;

namespace Sara.Tests.DeviceCheck.Parity;

public static class Kernels16Parity
{
    private static readonly DType[] Sixteen = [DType.BF16, DType.F16];
    private static readonly DType[] All = [DType.F32, DType.BF16, DType.F16];

    // (T, d, k): d % 4 == 0 takes the vector loads (64-bit for a 16-bit L), else scalar; k = 12 / 32 / 40 the 16 / 32 / 64
    // rank tiles, k = 100 two rank tiles; T = 300 several token tiles; d = 2052 several slices of d with a ragged last stage.
    public static readonly (int T, int D, int K)[] RankShapes = [(1, 3, 1), (37, 130, 12), (300, 516, 40), (70, 2052, 32), (129, 333, 100)];

    public static IEnumerable<ParityCase> Cases() => RankCases().Concat(ColumnSumCases()).Concat(AxpbyCases()).Concat(AddRowVectorCases());

    public static IEnumerable<ParityCase> RankCases() =>
        (from x in Sixteen
         from s in RankShapes
         select new ParityCase("rank-fwd-16bit", $"X {x.Name()} T{s.T} d{s.D} k{s.K}", (b, r) => Forward(b, s.T, s.D, s.K, x, r)))
        .Concat(
            from g in All
            from a in All
            where g != DType.F32 || a != DType.F32
            from s in RankShapes
            select new ParityCase("rank-bwd-16bit", $"G {g.Name()} A {a.Name()} T{s.T} d{s.D} k{s.K}",
                (b, r) => Backward(b, s.T, s.D, s.K, g, a, r)));

    /// <summary>H = X B^T and Z = H (.) lambda from a 16-bit X: float32 outputs.</summary>
    public static IReadOnlyList<ParityCheck> Forward(Backend backend, int t, int d, int k, DType xType, Rand r)
    {
        float[] xs = Gemm16Parity.Draw(r, (long)t * d, xType), bs = r.Normal((long)k * d), lam = r.Normal(k);
        using var x = backend.FromArray(xs, xType, t, d);
        using var b = backend.FromArray(bs, k, d);
        using var lambda = backend.FromArray(lam, k);
        using var h = Poison.Tensor(backend, t, k);
        using var z = Poison.Tensor(backend, t, k);
        backend.LowRankForward(x, b, lambda, h, z);
        var hRef = Oracle.MatMul(Oracle.D(xs), t, d, false, Oracle.D(bs), k, d, true);
        var hAbs = Oracle.MatMul(Oracle.Abs(xs), t, d, false, Oracle.Abs(bs), k, d, true);
        return
        [
            ParityCheck.Of("H", h.ToArray(), hRef, hAbs, 1e-5),
            ParityCheck.Of("Z", z.ToArray(), Oracle.ScaleColumns(hRef, t, k, Oracle.D(lam)), Oracle.ScaleColumns(hAbs, t, k, Oracle.Abs(lam)), 1e-5),
        ];
    }

    /// <summary>dZ = s G A, dH = dZ (.) lambda, dlambda = colsum(dZ (.) H) from a G and an A of the given dtypes: float32 outputs.</summary>
    public static IReadOnlyList<ParityCheck> Backward(Backend backend, int t, int d, int k, DType gType, DType aType, Rand r)
    {
        const float s = 0.7f;
        float[] gs = Gemm16Parity.Draw(r, (long)t * d, gType), as_ = Gemm16Parity.Draw(r, (long)d * k, aType), lam = r.Normal(k), hs = r.Normal((long)t * k);
        using var g = backend.FromArray(gs, gType, t, d);
        using var a = backend.FromArray(as_, aType, d, k);
        using var lambda = backend.FromArray(lam, k);
        using var h = backend.FromArray(hs, t, k);
        using var dz = Poison.Tensor(backend, t, k);
        using var dh = Poison.Tensor(backend, t, k);
        using var dl = Poison.Tensor(backend, k);
        backend.LowRankBackwardRank(g, a, h, lambda, s, dz, dh, dl);
        var dzRef = Oracle.MatMul(Oracle.D(gs), t, d, false, Oracle.D(as_), d, k, false).Select(v => s * v).ToArray();
        var dzAbs = Oracle.MatMul(Oracle.Abs(gs), t, d, false, Oracle.Abs(as_), d, k, false).Select(v => s * v).ToArray();
        return
        [
            ParityCheck.Of("dZ", dz.ToArray(), dzRef, dzAbs, 1e-5),
            ParityCheck.Of("dH", dh.ToArray(), Oracle.ScaleColumns(dzRef, t, k, Oracle.D(lam)), Oracle.ScaleColumns(dzAbs, t, k, Oracle.Abs(lam)), 1e-5),
            ParityCheck.Of("dlambda", dl.ToArray(), Oracle.ColumnSum(Oracle.Mul(dzRef, Oracle.D(hs)), t, k),
                Oracle.ColumnSum(Oracle.Mul(dzAbs, Oracle.Abs(hs)), t, k), 1e-5),
        ];
    }

    // (rows, cols): narrow (cols < 32) and wide, scalar (cols % 4 != 0) and vector, one launch and several row slices
    // (over 256 KB as float32: 300 x 230, 20000 x 5).
    public static readonly (int Rows, int Cols)[] ColumnSumShapes = [(1, 1), (37, 5), (20000, 5), (129, 64), (300, 230), (513, 200)];

    public static IEnumerable<ParityCase> ColumnSumCases() =>
        from x in Sixteen
        from s in ColumnSumShapes.Select((s, i) => (s, i))
        let beta = s.i % 2 == 0 ? 0f : 0.5f
        select new ParityCase("colsum-16bit", $"x {x.Name()} {s.s.Rows}x{s.s.Cols} beta{beta}", (b, r) => ColumnSum(b, s.s.Rows, s.s.Cols, x, beta, r));

    /// <summary>sum = beta sum + column sums of a 16-bit x: a float32 output (poisoned when beta is 0).</summary>
    public static IReadOnlyList<ParityCheck> ColumnSum(Backend backend, int rows, int cols, DType xType, float beta, Rand r)
    {
        float[] xs = Gemm16Parity.Draw(r, (long)rows * cols, xType), s0 = r.Normal(cols);
        using var x = backend.FromArray(xs, xType, rows, cols);
        using var sum = beta == 0f ? Poison.Tensor(backend, cols) : backend.FromArray(s0, cols);
        backend.ColumnSum(x, sum, beta);
        var want = Oracle.Add(Oracle.ColumnSum(Oracle.D(xs), rows, cols), Oracle.D(s0), beta);
        var abs = Oracle.Add(Oracle.ColumnSum(Oracle.Abs(xs), rows, cols), Oracle.Abs(s0), beta);
        return [ParityCheck.Of("sum", sum.ToArray(), want, abs, 1e-5)];
    }

    public static readonly int[] AxpbyLengths = [1, 1000, 70001];

    public static IEnumerable<ParityCase> AxpbyCases() =>
        from y in All
        from x in All
        where x != DType.F32 || y != DType.F32
        from n in AxpbyLengths.Select((n, i) => (n, i))
        let b = (n.i + (int)x) % 2 == 0 ? 0f : -0.3f
        select new ParityCase("axpby-16bit", $"x {x.Name()} y {y.Name()} n{n.n} b{b}", (be, r) => Axpby(be, n.n, x, y, b, r));

    /// <summary>y = a x + b y with x and y of any dtypes, computed in float32 and rounded once into y (poisoned when b is 0).</summary>
    public static IReadOnlyList<ParityCheck> Axpby(Backend backend, int n, DType xType, DType yType, float b, Rand r)
    {
        const float a = 0.75f;
        float[] xs = Gemm16Parity.Draw(r, n, xType), ys = Gemm16Parity.Draw(r, n, yType);
        using var x = backend.FromArray(xs, xType, n);
        using var y = b == 0f ? Poison.Tensor(backend, yType, n) : backend.FromArray(ys, yType, n);
        backend.Axpby(a, x, b, y);
        var want = new double[n];
        var abs = new double[n];
        for (var i = 0; i < n; i++)
        {
            want[i] = a * (double)xs[i] + (b == 0f ? 0 : b * (double)ys[i]);
            abs[i] = Math.Abs(a * (double)xs[i]) + (b == 0f ? 0 : Math.Abs(b * (double)ys[i]));
        }
        return [ParityCheck.Of($"y ({yType.Name()})", y.ToArray(), want, abs, Gemm16Parity.Tolerance(yType))];
    }

    public static IEnumerable<ParityCase> AddRowVectorCases() =>
        from y in Sixteen
        from s in new[] { (1, 1), (37, 129), (300, 64) }
        select new ParityCase("addrow-16bit", $"y {y.Name()} {s.Item1}x{s.Item2}", (b, r) => AddRowVector(b, s.Item1, s.Item2, y, r));

    /// <summary>y += bias (row vector) into a 16-bit y: one rounding per element.</summary>
    public static IReadOnlyList<ParityCheck> AddRowVector(Backend backend, int rows, int cols, DType yType, Rand r)
    {
        float[] ys = Gemm16Parity.Draw(r, (long)rows * cols, yType), bias = r.Normal(cols);
        using var y = backend.FromArray(ys, yType, rows, cols);
        using var bv = backend.FromArray(bias, cols);
        backend.AddRowVector(y, bv);
        var want = Oracle.AddRowVector(Oracle.D(ys), rows, cols, Oracle.D(bias));
        var abs = Oracle.AddRowVector(Oracle.Abs(ys), rows, cols, Oracle.Abs(bias));
        return [ParityCheck.Of($"y ({yType.Name()})", y.ToArray(), want, abs, Gemm16Parity.Tolerance(yType))];
    }
}
