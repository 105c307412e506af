using Sara.Native.Runtime;
using Sara.Native.Tensors;

namespace Sara.Native.Backends;

// 16-bit tensors on a kernel runtime (DESIGN 3.1): conversions (kernels/convert.cu), GEMMs with 16-bit operands
// (cublasGemmEx, or MixedGemm's panels for the combinations it lacks), and a 16-bit W0's statistics. The kernels of the
// adapter path read and write 16-bit activations themselves (CudaBackend.cs, CudaBackend.LowRank.cs).
public sealed partial class CudaBackend
{
    /// <summary>sara_convert_&lt;from&gt;_&lt;to&gt; over a rows x cols block with leading dimensions (elements).</summary>
    private void ConvertBlock(DType from, nint src, int lds, DType to, nint dst, int ldd, int rows, int cols)
    {
        if ((long)rows * cols == 0) return;
        var (grid, d, s) = (GridFor((long)rows * cols), KernelPtr.Raw(dst), KernelPtr.Raw(src));
        switch (from, to)
        {
            case (DType.BF16, DType.F32): Kernels.SaraConvertBf16F32(Runtime, grid, Threads, 0, d, ldd, s, lds, rows, cols); break;
            case (DType.F16, DType.F32): Kernels.SaraConvertF16F32(Runtime, grid, Threads, 0, d, ldd, s, lds, rows, cols); break;
            case (DType.F32, DType.BF16): Kernels.SaraConvertF32Bf16(Runtime, grid, Threads, 0, d, ldd, s, lds, rows, cols); break;
            case (DType.F32, DType.F16): Kernels.SaraConvertF32F16(Runtime, grid, Threads, 0, d, ldd, s, lds, rows, cols); break;
            case (DType.BF16, DType.F16): Kernels.SaraConvertBf16F16(Runtime, grid, Threads, 0, d, ldd, s, lds, rows, cols); break;
            case (DType.F16, DType.BF16): Kernels.SaraConvertF16Bf16(Runtime, grid, Threads, 0, d, ldd, s, lds, rows, cols); break;
            default: throw new ArgumentException($"No conversion kernel from {from.Name()} to {to.Name()}.");
        }
    }

    protected override void FillBitsCore(Tensor t, uint bits)
    {
        if (t.DType == DType.F32) Runtime.Memset32(t.Ptr, bits, t.Length);
        else Runtime.Memset16(t.Ptr, (ushort)bits, t.Length);
    }

    protected override void ConvertCore(Tensor src, Tensor dst)
    {
        var (rows, cols) = src.Rank == 2 ? (src.Rows, src.Cols) : (1, checked((int)src.Length));
        ConvertBlock(src.DType, src.Ptr, cols, dst.DType, dst.Ptr, cols, rows, cols);
    }

    /// <summary>
    /// A GEMM with a 16-bit operand: one cublasGemmEx when a and b share a 16-bit type and c is that type or f32
    /// (tensor cores, float32 accumulation); otherwise (float32 activations times a bf16 W0, a merge into a 16-bit W0)
    /// MixedGemm's panels: 16-bit slices widened by kernels/convert.cu into float32 scratch, float32 GEMMs, one rounding.
    /// </summary>
    private void Gemm16(Tensor a, bool transA, Tensor b, bool transB, Tensor c, int k, float alpha, float beta) =>
        GemmMixedCore(transA, transB, c.Rows, c.Cols, k, alpha, new GemmOperand(a.Ptr, a.DType, GemmArgs.Leading(a.Cols)),
            new GemmOperand(b.Ptr, b.DType, GemmArgs.Leading(b.Cols)), beta, new GemmOperand(c.Ptr, c.DType, GemmArgs.Leading(c.Cols)));

    protected override void GemmMixedCore(bool transA, bool transB, int m, int n, int k, float alpha, GemmOperand a, GemmOperand b,
        float beta, GemmOperand c)
    {
        if (a.Type == b.Type && a.Type.Is16Bit() && (c.Type == a.Type || c.Type == DType.F32))
            Runtime.GemmEx(transA, transB, m, n, k, alpha, a.Ptr, a.Type, a.Ld, b.Ptr, b.Type, b.Ld, beta, c.Ptr, c.Type, c.Ld);
        else
            MixedGemm.Run(new DevicePanels(this), transA, transB, m, n, k, alpha, a, b, beta, c);
    }

    protected override void WidenBlockCore(DType type, nint src, nint dst, int rows, int cols) =>
        ConvertBlock(type, src, cols, DType.F32, dst, cols, rows, cols);

    /// <summary>MixedGemm on the runtime: scratch from this backend's pool, conversions by kernels/convert.cu, SGEMM by cuBLAS (or its stand-in).</summary>
    private sealed class DevicePanels(CudaBackend owner) : IGemmPanels
    {
        public IDisposable Rent(long floats, out nint ptr)
        {
            var buffer = new DeviceBuffer(owner.Pool, Math.Max(floats, 1) * sizeof(float));
            ptr = buffer.Pointer;
            return buffer;
        }

        public void Widen(DType type, nint src, int lds, int rows, int cols, nint dst, int ldd) =>
            owner.ConvertBlock(type, src, lds, DType.F32, dst, ldd, rows, cols);

        public void Narrow(DType type, nint src, int lds, int rows, int cols, nint dst, int ldd) =>
            owner.ConvertBlock(DType.F32, src, lds, type, dst, ldd, rows, cols);

        public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, nint b, int ldb, float beta, nint c, int ldc) =>
            owner.Runtime.Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /// <summary>||x||^2 and the non-finite count of a 16-bit x (a frozen W0): widened a panel at a time, each through sara_svd_sum_squares.</summary>
    protected override SquaredNorm SumOfSquares16Core(DType type, nint x, long length)
    {
        double sum = 0;
        long bad = 0;
        for (long i = 0; i < length; i += MixedGemm.PanelFloats)
        {
            var n = (int)Math.Min(MixedGemm.PanelFloats, length - i);
            using var panel = Empty(n);
            ConvertBlock(type, x + (nint)(i * 2), n, DType.F32, panel.Ptr, n, 1, n);
            var part = SumOfSquaresCore(panel.Ptr, n);
            sum += part.SumOfSquares;
            bad += part.NonFinite;
        }
        return new SquaredNorm(sum, bad);
    }
}
