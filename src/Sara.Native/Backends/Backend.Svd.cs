using Sara.Native.Tensors;

namespace Sara.Native.Backends;

/// <summary>Sum of the squares of the finite elements of a tensor, and how many elements are NaN or infinite.</summary>
public readonly record struct SquaredNorm(double SumOfSquares, long NonFinite);

// The non-GEMM pieces of the randomized truncated SVD (DESIGN 1.4); kernels in kernels/svd.cu. Sara.Native.Svd drives them.
public abstract partial class Backend
{
    /// <summary>Largest sketch width (rows of <see cref="SmallSvd"/>'s input, order of <see cref="Cholesky"/>).</summary>
    public const int MaxSmallDimension = 1024;

    /// <summary>||x||_F^2 over the finite elements and the count of NaN/Inf elements; a deterministic reduction. x may be 16-bit (a frozen W0).</summary>
    public SquaredNorm SumOfSquares(Tensor x)
    {
        Check.Owned(this, x, nameof(x), any16: true);
        if (x.Length == 0) return new SquaredNorm(0, 0);
        return x.DType == DType.F32 ? SumOfSquaresCore(x.Ptr, x.Length) : SumOfSquares16Core(x.DType, x.Ptr, x.Length);
    }

    /// <summary>
    /// Lower Cholesky factor: l l^T = a + relativeShift * max_i(a_ii) * I (upper triangle of l zeroed). a is symmetric
    /// (only its lower triangle is read), n x n with n &lt;= <see cref="MaxSmallDimension"/>. A pivot not above
    /// guard = 1e-7 * max_i(a_ii) marks a numerically dependent column: it gets pivot sqrt(guard) and a zero sub-column,
    /// so the factorisation never fails and stays finite (CholeskyQR relies on this).
    /// </summary>
    public void Cholesky(Tensor a, Tensor l, float relativeShift = 0f)
    {
        SquareSmall(a, nameof(a));
        Check.SameShape(this, l, a.Shape, nameof(l));
        if (!(relativeShift >= 0f) || float.IsInfinity(relativeShift))
            throw new ArgumentOutOfRangeException(nameof(relativeShift), $"relativeShift must be finite and >= 0; got {relativeShift}.");
        if (ReferenceEquals(a, l)) throw new ArgumentException("l must not be the same tensor as a.", nameof(l));
        if (a.Rows > 0) CholeskyCore(a, l, relativeShift);
    }

    /// <summary>inverse = l^-1 for lower-triangular l (n x n, n &lt;= <see cref="MaxSmallDimension"/>); upper triangle zeroed.</summary>
    public void TriangularInverse(Tensor l, Tensor inverse)
    {
        SquareSmall(l, nameof(l));
        Check.SameShape(this, inverse, l.Shape, nameof(inverse));
        if (ReferenceEquals(l, inverse)) throw new ArgumentException("inverse must not be the same tensor as l.", nameof(inverse));
        if (l.Rows > 0) TriangularInverseCore(l, inverse);
    }

    /// <summary>
    /// Dense SVD of a short-and-wide b (l x n, l &lt;= n, l &lt;= <see cref="MaxSmallDimension"/>): b = U diag(s) Vt.
    /// s gets all l values, descending; u (l x c) and vt (c x n) get the leading c = u.Cols vectors, 1 &lt;= c &lt;= l.
    /// CudaBackend: the float64 Gram matrix b b^T and Dsyevd (kernels/svd.cu); CpuBackend: LAPACKE sgesdd. b is not modified.
    /// </summary>
    public void SmallSvd(Tensor b, Tensor s, Tensor u, Tensor vt)
    {
        Check.Matrix(this, b, nameof(b));
        int l = b.Rows, n = b.Cols;
        if (l < 1 || l > n || l > MaxSmallDimension)
            throw new ArgumentException($"b must be l x n with 1 <= l <= n and l <= {MaxSmallDimension}; got {b.ShapeText}.", nameof(b));
        Check.Vector(this, s, l, nameof(s));
        Check.Matrix(this, u, nameof(u));
        if (u.Rows != l || u.Cols < 1 || u.Cols > l)
            throw new ArgumentException($"u must be {l} x c with 1 <= c <= {l}; got {u.ShapeText}.", nameof(u));
        Check.SameShape(this, vt, [u.Cols, n], nameof(vt));
        SmallSvdCore(b, s, u, vt);
    }

    /// <summary>
    /// All min(m, n) singular values of w (m x n), descending, from the vendor solver (cuSOLVER / LAPACK). w is not
    /// modified. A 16-bit w is widened into the solver's float32 working copy (the one full-size float32 copy of a
    /// 16-bit W0 the library ever makes, and only on this exact-spectrum path).
    /// </summary>
    public float[] ExactSvdValues(Tensor w)
    {
        Check.Matrix(this, w, nameof(w), any16: true);
        return Math.Min(w.Rows, w.Cols) == 0 ? [] : ExactSvdValuesCore(w);
    }

    /// <summary>
    /// Eigen-decomposition of a symmetric a (n x n, n &lt;= <see cref="MaxSmallDimension"/>; its lower triangle is read):
    /// values ascending; the columns of vectors are the eigenvectors (vectors[:, i] goes with values[i]). a is not
    /// modified. The vendor solver: cuSOLVER syevd on a GPU, LAPACKE ssyevd on the emulator and the CPU.
    /// </summary>
    public void SymmetricEigen(Tensor a, Tensor values, Tensor vectors)
    {
        SquareSmall(a, nameof(a));
        Check.Vector(this, values, a.Rows, nameof(values));
        Check.SameShape(this, vectors, a.Shape, nameof(vectors));
        if (ReferenceEquals(a, vectors)) throw new ArgumentException("vectors must not be the same tensor as a.", nameof(vectors));
        if (a.Rows == 0) return;
        CopyCore(a, vectors);
        SymmetricEigenCore(vectors, values);
    }

    private void SquareSmall(Tensor t, string name, [System.Runtime.CompilerServices.CallerMemberName] string op = "")
    {
        Check.Matrix(this, t, name, op: op);
        if (t.Rows != t.Cols || t.Rows > MaxSmallDimension)
            throw new ArgumentException($"'{name}' must be square n x n with n <= {MaxSmallDimension}; got {t.ShapeText}.", name);
    }

    /// <summary>The float32 sum of squares of length contiguous floats at x (a whole tensor or a <see cref="RowBlock"/>).</summary>
    protected abstract SquaredNorm SumOfSquaresCore(nint x, long length);
    /// <summary>The sum of squares of length contiguous 16-bit values at x, widened exactly to float32 a piece at a time.</summary>
    protected abstract SquaredNorm SumOfSquares16Core(DType type, nint x, long length);
    protected abstract void CholeskyCore(Tensor a, Tensor l, float relativeShift);
    protected abstract void TriangularInverseCore(Tensor l, Tensor inverse);
    protected abstract void SmallSvdCore(Tensor b, Tensor s, Tensor u, Tensor vt);
    protected abstract float[] ExactSvdValuesCore(Tensor w);

    /// <summary>In place: a (a copy of the input) becomes the eigenvectors (columns), values ascending.</summary>
    protected abstract void SymmetricEigenCore(Tensor a, Tensor values);
}
