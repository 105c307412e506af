using Sara.Native.Runtime;
using Sara.Native.Tensors;

namespace Sara.Native.Backends;

/// <summary>
/// Rows [<see cref="Start"/>, <see cref="Start"/> + <see cref="Count"/>) of a 2-D tensor: a contiguous row-major
/// sub-matrix with the tensor's own row stride. The block Krylov SVD keeps its bases as rows of one tensor and works on
/// blocks of them without copies. The weight it factors may be 16-bit (a bf16 / f16 W0, DESIGN 3.1): GEMMs, sums of
/// squares and copies into float32 read such a block in place, a panel at a time, with no float32 copy of it.
/// </summary>
public readonly record struct RowBlock(Tensor Tensor, int Start, int Count)
{
    /// <summary>All rows of <paramref name="t"/>.</summary>
    public static implicit operator RowBlock(Tensor t) => new(t, 0, t.Rows);

    public int Cols => Tensor.Cols;

    internal nint Ptr => Tensor.Ptr + (nint)((long)Start * Tensor.Cols * Tensor.DType.Size());

    internal DType DType => Tensor.DType;

    internal GemmOperand Operand => new(Ptr, DType, GemmArgs.Leading(Cols));

    public override string ToString() => $"rows [{Start}, {Start + Count}) of {Tensor.ShapeText}";
}

public abstract partial class Backend
{
    /// <summary>
    /// c = alpha * op(a) op(b) + beta * c on row blocks of 2-D tensors (see <see cref="RowBlock"/>); a and b may be
    /// 16-bit (widened exactly, float32 sums, as <see cref="Gemm(Tensor, bool, Tensor, bool, Tensor, float, float)"/>).
    /// </summary>
    public void Gemm(RowBlock a, bool transA, RowBlock b, bool transB, RowBlock c, float alpha = 1f, float beta = 0f)
    {
        var (m, n, k) = GemmShape(a, transA, b, transB, c);
        if (m == 0 || n == 0) return;
        if (a.DType == DType.F32 && b.DType == DType.F32)
            GemmBlocksCore(a.Ptr, a.Cols, transA, b.Ptr, b.Cols, transB, c.Ptr, c.Cols, m, n, k, alpha, beta);
        else GemmMixedCore(transA, transB, m, n, k, alpha, a.Operand, b.Operand, beta, c.Operand);
    }

    /// <summary>Checks the blocks and returns op(a) (m x k) op(b) (k x n) = c (m x n).</summary>
    private (int M, int N, int K) GemmShape(RowBlock a, bool transA, RowBlock b, bool transB, RowBlock c)
    {
        CheckBlock(a, nameof(a), any16: true);
        CheckBlock(b, nameof(b), any16: true);
        CheckBlock(c, nameof(c));
        var (m, ka) = transA ? (a.Cols, a.Count) : (a.Count, a.Cols);
        var (kb, n) = transB ? (b.Cols, b.Count) : (b.Count, b.Cols);
        if (ka != kb) throw new ArgumentException($"Inner dimensions differ: op(a) is {m}x{ka}, op(b) is {kb}x{n}.", nameof(b));
        if (c.Count != m || c.Cols != n) throw new ArgumentException($"'c' must be {m}x{n}; got {c}.", nameof(c));
        return (m, n, ka);
    }

    /// <summary>
    /// <paramref name="batch"/> GEMMs c_i = alpha op(a_i) op(b_i) + beta c_i on row blocks that repeat every
    /// <paramref name="aStride"/>, <paramref name="bStride"/>, <paramref name="cStride"/> rows of their tensors (item i
    /// of a is rows [a.Start + i aStride, + a.Count)): several matrices of one shape stacked in one tensor, in one
    /// batched call (cuBLAS strided batched GEMM; a loop of GEMMs on the CPU). With a 16-bit a or b (a stack of 16-bit
    /// weights) the items run one after another as mixed GEMMs (<see cref="MixedGemm"/>'s panels): no strided batched
    /// call mixes float32 and 16-bit operands.
    /// </summary>
    public void GemmBatched(int batch, RowBlock a, int aStride, bool transA, RowBlock b, int bStride, bool transB, RowBlock c, int cStride,
        float alpha = 1f, float beta = 0f)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        if (aStride < 0 || bStride < 0 || cStride < 0) throw new ArgumentOutOfRangeException(nameof(aStride), "Strides must be >= 0.");
        var (m, n, ka) = GemmShape(a, transA, b, transB, c);
        GemmShape(a with { Start = a.Start + (batch - 1) * aStride }, transA, b with { Start = b.Start + (batch - 1) * bStride }, transB,
            c with { Start = c.Start + (batch - 1) * cStride });   // the last items lie inside their tensors too
        if (ReferenceEquals(c.Tensor, a.Tensor) || ReferenceEquals(c.Tensor, b.Tensor))
            throw new ArgumentException("c must not share a tensor with a or b.", nameof(c));
        if (m == 0 || n == 0) return;
        if (a.DType != DType.F32 || b.DType != DType.F32)
        {
            for (var i = 0; i < batch; i++)
                GemmMixedCore(transA, transB, m, n, ka, alpha, (a with { Start = a.Start + i * aStride }).Operand,
                    (b with { Start = b.Start + i * bStride }).Operand, beta, (c with { Start = c.Start + i * cStride }).Operand);
            return;
        }
        GemmBatchedCore(batch, a.Ptr, a.Cols, (long)aStride * a.Cols, transA, b.Ptr, b.Cols, (long)bStride * b.Cols, transB,
            c.Ptr, c.Cols, (long)cStride * c.Cols, m, n, ka, alpha, beta);
    }

    /// <summary>Strided batched row-major GEMM on raw pointers (strides in elements).</summary>
    protected abstract void GemmBatchedCore(int batch, nint a, int lda, long strideA, bool transA, nint b, int ldb, long strideB, bool transB,
        nint c, int ldc, long strideC, int m, int n, int k, float alpha, float beta);

    /// <summary>Uploads host data into the rows of <paramref name="dst"/> (exactly Count x Cols values).</summary>
    public void Upload(RowBlock dst, ReadOnlySpan<float> src)
    {
        CheckBlock(dst, nameof(dst));
        Check.Length(src.Length, (long)dst.Count * dst.Cols, nameof(src));
        if (src.Length > 0) UploadBlockCore(dst.Ptr, src);
    }

    /// <summary>||rows||_F^2 and the NaN/Inf count of a row block (any dtype), as <see cref="SumOfSquares(Tensor)"/>.</summary>
    public SquaredNorm SumOfSquares(RowBlock x)
    {
        CheckBlock(x, nameof(x), any16: true);
        var length = (long)x.Count * x.Cols;
        if (length == 0) return new SquaredNorm(0, 0);
        return x.DType == DType.F32 ? SumOfSquaresCore(x.Ptr, length) : SumOfSquares16Core(x.DType, x.Ptr, length);
    }

    /// <summary>
    /// Copies the rows of <paramref name="src"/> into the float32 <paramref name="dst"/> (same row and column counts); a
    /// 16-bit src is widened exactly.
    /// </summary>
    public void Copy(RowBlock src, RowBlock dst)
    {
        CheckBlock(src, nameof(src), any16: true);
        CheckBlock(dst, nameof(dst));
        if (src.Count != dst.Count || src.Cols != dst.Cols) throw new ArgumentException($"'dst' ({dst}) must have the shape of 'src' ({src}).", nameof(dst));
        if ((long)src.Count * src.Cols == 0) return;
        if (src.DType == DType.F32) CopyBlockCore(dst.Ptr, src.Ptr, (long)src.Count * src.Cols * sizeof(float));
        else WidenBlockCore(src.DType, src.Ptr, dst.Ptr, src.Count, src.Cols);
    }

    private void CheckBlock(RowBlock block, string name, bool any16 = false, [System.Runtime.CompilerServices.CallerMemberName] string op = "")
    {
        Check.Matrix(this, block.Tensor, name, any16, op);
        if (block.Start < 0 || block.Count < 0 || (long)block.Start + block.Count > block.Tensor.Rows)
            throw new ArgumentOutOfRangeException(name, $"'{name}': {block} is outside the tensor.");
    }

    /// <summary>Row-major GEMM on raw pointers with leading dimensions (the row strides).</summary>
    protected abstract void GemmBlocksCore(nint a, int lda, bool transA, nint b, int ldb, bool transB, nint c, int ldc,
        int m, int n, int k, float alpha, float beta);

    /// <summary>
    /// Row-major c = alpha op(a) op(b) + beta c for operands of any dtypes (c float32 here): cublasGemmEx's
    /// CUBLAS_COMPUTE_32F math, by one library call where one covers the types, else by <see cref="MixedGemm"/>'s panels.
    /// </summary>
    protected abstract void GemmMixedCore(bool transA, bool transB, int m, int n, int k, float alpha, GemmOperand a, GemmOperand b,
        float beta, GemmOperand c);

    /// <summary>dst (rows x cols float32, contiguous) = src (rows x cols of 16-bit <paramref name="type"/>) widened exactly.</summary>
    protected abstract void WidenBlockCore(DType type, nint src, nint dst, int rows, int cols);

    /// <summary>Copies host data to a place in this backend's memory.</summary>
    protected abstract void UploadBlockCore(nint dst, ReadOnlySpan<float> src);

    /// <summary>Copies <paramref name="bytes"/> bytes between two places in this backend's memory.</summary>
    protected abstract void CopyBlockCore(nint dst, nint src, long bytes);
}
