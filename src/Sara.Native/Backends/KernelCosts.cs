using Sara.Native.Runtime;

namespace Sara.Native.Backends;

/// <summary>
/// The modelled work of one recorded kernel launch: flops, and the bytes it must move through DRAM at least (each input
/// read once, each output written once; operands that are re-read by many blocks but fit in L2 are counted once). The
/// same formulas as the kernels' header comments; the H200 floor is max(flops / 67 TFLOP/s, bytes / 4.8 TB/s) (a 16-bit
/// cublasGemmEx call: flops / 989 TFLOP/s, the dense bf16 / f16 tensor-core peak).
/// Every kernel of kernels/*.cu has an entry (tested), so a census can price every launch.
/// </summary>
public static class KernelCosts
{
    public const double H200Bandwidth = 4.8e12, H200Fp32 = 67e12, H200Tensor16 = 989e12;

    /// <summary>Seconds on an H200 at its fp32 peak and HBM bandwidth.</summary>
    public static double H200Floor(double flops, double bytes) => Math.Max(flops / H200Fp32, bytes / H200Bandwidth);

    /// <summary>Seconds on an H200 for a recorded entry: its flops at the fp32 peak, or at the 16-bit tensor-core peak for cublasGemmEx.</summary>
    public static double H200Floor(CensusEntry e)
    {
        var (flops, bytes) = Of(e);
        var peak = e.Kind == CensusKind.Library && e.Name == "gemmex" ? H200Tensor16 : H200Fp32;
        return Math.Max(flops / peak, bytes / H200Bandwidth);
    }

    /// <summary>Flops and bytes of a kernel entry (library calls and copies carry their own).</summary>
    public static (double Flops, double Bytes) Of(CensusEntry e)
    {
        if (e.Kind != CensusKind.Kernel) return (e.Flops, e.Bytes);
        if (!Models.TryGetValue(e.Name, out var model)) throw new KeyNotFoundException($"No cost model for kernel {e.Name}.");
        return model(new Args(e));
    }

    /// <summary>The kernels that have a model (for the test that every kernel has one).</summary>
    public static IReadOnlyCollection<string> Modelled => Models.Keys;

    private const double F = 4;   // bytes per float

    /// <summary>A rank-k partial product; <paramref name="l"/>: bytes per element of L (X or G: 4, or 2 for bf16 / f16).</summary>
    private static (double, double) Partial(Args a, string d, double l = F)
    {
        double t = a.Int("T"), n = a.Int(d), k = a.Int("k"), s = a.Grid.Z, rankTiles = a.Grid.Y;
        return (2 * t * n * k, l * rankTiles * t * n + F * (k * n + s * t * k));
    }

    /// <summary>A column sum; <paramref name="x"/>: bytes per element of x.</summary>
    private static (double, double) ColumnSum(Args a, double x = F)
    {
        double rows = a.Int("rows"), cols = a.Int("cols");
        var writes = a.Ptr("part") ? a.Grid.Y * cols : cols * (a.Float("beta") == 0f ? 1 : 2);
        return (rows * cols, x * rows * cols + F * writes);
    }

    private static double Bytes(int dtype) => (Tensors.DType)dtype == Tensors.DType.F32 ? F : H;

    private const double H = 2;   // bytes per bf16 / f16 element

    /// <summary>A conversion of a rows x cols block: one read and one write per element (kernels/convert.cu).</summary>
    private static (double, double) Convert(Args a, double srcBytes, double dstBytes)
    {
        var e = (double)a.Int("rows") * a.Int("cols");
        return (e, (srcBytes + dstBytes) * e);
    }

    private static readonly Dictionary<string, Func<Args, (double Flops, double Bytes)>> Models = new(StringComparer.Ordinal)
    {
        ["sara_lowrank_fwd_partial_k16"] = a => Partial(a, "n"),
        ["sara_lowrank_fwd_partial_k32"] = a => Partial(a, "n"),
        ["sara_lowrank_fwd_partial_k64"] = a => Partial(a, "n"),
        ["sara_lowrank_bwd_partial_k16"] = a => Partial(a, "m"),
        ["sara_lowrank_bwd_partial_k32"] = a => Partial(a, "m"),
        ["sara_lowrank_bwd_partial_k64"] = a => Partial(a, "m"),
        ["sara_lowrank_fwd_partial_k16_bf16"] = a => Partial(a, "n", H),
        ["sara_lowrank_fwd_partial_k32_bf16"] = a => Partial(a, "n", H),
        ["sara_lowrank_fwd_partial_k64_bf16"] = a => Partial(a, "n", H),
        ["sara_lowrank_fwd_partial_k16_f16"] = a => Partial(a, "n", H),
        ["sara_lowrank_fwd_partial_k32_f16"] = a => Partial(a, "n", H),
        ["sara_lowrank_fwd_partial_k64_f16"] = a => Partial(a, "n", H),
        ["sara_lowrank_bwd_partial_k16_bf16"] = a => Partial(a, "m", H),
        ["sara_lowrank_bwd_partial_k32_bf16"] = a => Partial(a, "m", H),
        ["sara_lowrank_bwd_partial_k64_bf16"] = a => Partial(a, "m", H),
        ["sara_lowrank_bwd_partial_k16_f16"] = a => Partial(a, "m", H),
        ["sara_lowrank_bwd_partial_k32_f16"] = a => Partial(a, "m", H),
        ["sara_lowrank_bwd_partial_k64_f16"] = a => Partial(a, "m", H),
        ["sara_lowrank_fwd_finish"] = a =>
        {
            double tk = (double)a.Int("T") * a.Int("k"), s = a.Int("S");
            return (s * tk + tk, F * (s * tk + 2 * tk + a.Int("k")));
        },
        ["sara_lowrank_bwd_finish"] = a =>
        {
            double tk = (double)a.Int("T") * a.Int("k"), s = a.Int("S");
            var outputs = (a.Ptr("dZ") ? 1 : 0) + (a.Ptr("dH") && a.Ptr("lambda") ? 1 : 0);
            var dl = a.Ptr("dlambda_part") && a.Ptr("H");
            return (s * tk + 3 * tk, F * (s * tk + outputs * tk + (dl ? tk + a.Grid.Y * a.Int("k") : 0)));
        },
        ["sara_column_sum"] = a => ColumnSum(a),
        ["sara_column_sum_narrow"] = a => ColumnSum(a),
        ["sara_column_sum_bf16"] = a => ColumnSum(a, H),
        ["sara_column_sum_f16"] = a => ColumnSum(a, H),
        ["sara_column_sum_narrow_bf16"] = a => ColumnSum(a, H),
        ["sara_column_sum_narrow_f16"] = a => ColumnSum(a, H),
        ["sara_column_sum_finish"] = a =>
        {
            double s = a.Int("slices"), cols = a.Int("cols");
            return (s * cols, F * (s * cols + cols * (a.Float("beta") == 0f ? 1 : 2)));
        },
        ["sara_sum_partials"] = a => (a.Int("count"), F * (a.Int("count") + 1)),
        ["sara_adamw_batch"] = a =>
        {
            var batch = CensusRuntime.ReadStruct<AdamWSizes>(a.Struct("sizes"));
            double n = 0;
            unsafe
            {
                for (var i = 0; i < batch.Count; i++) n += batch.N[i];
            }
            return (12 * n, 7 * F * n);
        },
        ["sara_add_row_vector"] = a => ((double)a.Int("rows") * a.Int("cols"), F * (2.0 * a.Int("rows") * a.Int("cols") + a.Int("cols"))),
        ["sara_axpby"] = a => (2.0 * a.Long("n"), F * a.Long("n") * (a.Float("b") == 0f ? 2 : 3)),
        ["sara_add_row_vector_16"] = a => ((double)a.Int("rows") * a.Int("cols"), 2 * H * a.Int("rows") * a.Int("cols") + F * a.Int("cols")),
        ["sara_axpby_typed"] = a =>
        {
            double y = Bytes(a.Int("ytype"));
            return (2.0 * a.Long("n"), a.Long("n") * (Bytes(a.Int("xtype")) + y * (a.Float("b") == 0f ? 1 : 2)));
        },
        ["sara_scale_columns"] = a => ((double)a.Int("rows") * a.Int("cols"), F * (2.0 * a.Int("rows") * a.Int("cols") + a.Int("cols"))),
        ["sara_relu_fwd"] = a => (a.Long("n"), 2 * F * a.Long("n")),
        ["sara_relu_bwd"] = a => (2.0 * a.Long("n"), F * a.Long("n") * (a.Float("beta") == 0f ? 3 : 4)),
        ["sara_mse_fwd_bwd"] = a => (4.0 * a.Long("n"), F * (3.0 * a.Long("n") + a.Grid.X)),
        ["sara_softmax_xent"] = a =>
        {
            double tc = (double)a.Int("T") * a.Int("C");
            return (5 * tc, F * (2 * tc + 2.0 * a.Int("T")));
        },
        ["sara_routing_fwd"] = a =>
        {
            double t = a.Int("T"), e = a.Int("E"), k = a.Int("k");
            return (4 * t * e * k, F * (3 * t * k + t * e + 2 * e * k + e));
        },
        ["sara_routing_bwd_token"] = a =>
        {
            double t = a.Int("T"), e = a.Int("E"), k = a.Int("k");
            return (4 * t * e * k, F * (4 * t * k + 2 * t * e + 2 * e * k));
        },
        ["sara_routing_bwd_params"] = a =>
        {
            double t = a.Int("T"), e = a.Int("E"), k = a.Int("k"), chunks = a.Grid.Y;
            return (4 * t * e * k, F * (2 * t * k + 2 * t * e + 2 * chunks * e * k));
        },
        ["sara_routing_stats"] = a =>
        {
            double t = a.Int("T"), e = a.Int("E");
            return (2 * t * e, F * (t * e + 2.0 * a.Grid.X * e));
        },
        ["sara_svd_sum_squares"] = a => (2.0 * a.Long("len"), F * a.Long("len") + 16.0 * a.Grid.X),
        ["sara_svd_sum_squares_finish"] = a => (2.0 * a.Int("count"), 16.0 * a.Int("count") + 16),
        ["sara_svd_cholesky"] = a =>
        {
            double n = a.Int("n");
            return (n * n * n / 3, F * 2 * n * n);
        },
        ["sara_svd_tri_inverse"] = a =>
        {
            double n = a.Int("n");
            return (n * n * n / 3, F * 2 * n * n);
        },
        ["sara_svd_gram"] = a =>
        {
            double l = a.Int("l"), n = a.Int("n");
            return (l * l * n, F * l * n + 8 * l * l);
        },
        ["sara_svd_gram_finish"] = a =>
        {
            double l = a.Int("l"), c = a.Int("c");
            return (l, 8 * l * c + 8 * l + F * (l + l * c));
        },
        ["sara_convert_bf16_f32"] = a => Convert(a, H, F),
        ["sara_convert_f16_f32"] = a => Convert(a, H, F),
        ["sara_convert_f32_bf16"] = a => Convert(a, F, H),
        ["sara_convert_f32_f16"] = a => Convert(a, F, H),
        ["sara_convert_bf16_f16"] = a => Convert(a, H, H),
        ["sara_convert_f16_bf16"] = a => Convert(a, H, H),
        ["sara_svd_normalize_rows"] = a => (3.0 * a.Grid.X * a.Int("n"), 2 * F * a.Grid.X * a.Int("n")),
    };

    /// <summary>A recorded launch's arguments by parameter name (names from the generated launch surface).</summary>
    private readonly struct Args(CensusEntry entry)
    {
        private int Index(string name)
        {
            var i = Array.IndexOf(Kernels.Parameters[entry.Name], name);
            if (i < 0) throw new KeyNotFoundException($"{entry.Name} has no parameter '{name}'.");
            return i;
        }

        public Dim3 Grid => entry.Grid;
        public int Int(string name) => entry.Args[Index(name)].AsInt32;
        public long Long(string name) => entry.Args[Index(name)].Bits;
        public float Float(string name) => entry.Args[Index(name)].AsFloat32;
        public bool Ptr(string name) => entry.Args[Index(name)].Bits != 0;
        public byte[] Struct(string name) => entry.StructBytes[Index(name)]!;
    }
}
