using Sara.Native.Tensors;

namespace Sara.Native.Runtime;

/// <summary>One GEMM operand: pointer, element type and leading dimension (row-major, in elements).</summary>
public readonly record struct GemmOperand(nint Ptr, DType Type, int Ld);

/// <summary>What <see cref="MixedGemm"/> runs on: float32 scratch, 16-bit widening and narrowing of 2-D blocks, and SGEMM.</summary>
public interface IGemmPanels
{
    /// <summary>A float32 scratch block of <paramref name="floats"/> elements (at least 1), released by Dispose.</summary>
    IDisposable Rent(long floats, out nint ptr);

    /// <summary>dst[r * ldd + c] = src[r * lds + c] widened exactly from <paramref name="type"/> (16-bit) to float32.</summary>
    void Widen(DType type, nint src, int lds, int rows, int cols, nint dst, int ldd);

    /// <summary>dst[r * ldd + c] = src[r * lds + c] rounded from float32 to <paramref name="type"/> (16-bit), nearest even.</summary>
    void Narrow(DType type, nint src, int lds, int rows, int cols, nint dst, int ldd);

    /// <summary>Row-major float32 C = alpha op(A) op(B) + beta C (beta = 0: C is not read).</summary>
    void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, nint b, int ldb, float beta, nint c, int ldc);
}

/// <summary>
/// C = alpha op(A) op(B) + beta C for operands of any dtypes with one SGEMM per panel: the math of cublasGemmEx with
/// CUBLAS_COMPUTE_32F (16-bit values widened exactly, float32 accumulation, a 16-bit C rounded once at the end), for
/// the cases no single library call covers: the CPU backend (no BLAS with 16-bit GEMMs on Debian 12: OpenBLAS 0.3.21
/// has no sbgemm, and Debian's oneDNN 2.6 refuses bf16 matmul without AVX-512), the emulator's stand-in for GemmEx, and
/// mixed operands on the GPU (cuBLAS needs A and B of one type: float32 activations times a bf16 W0 are not a GemmEx).
/// <para>
/// A 16-bit operand is widened a panel at a time into float32 scratch of at most <see cref="PanelFloats"/> elements
/// (4 MiB), the inner dimension split into panels of kc; a 16-bit C is worked on in row panels of float32, each rounded
/// once when its last k-panel is done. So a 4096 x 4096 bf16 W0 never has a float32 copy: at most a 4096 x 256 slice.
/// </para>
/// </summary>
public static class MixedGemm
{
    /// <summary>Largest float32 panel (elements): 4 MiB.</summary>
    public const long PanelFloats = 1 << 20;

    /// <summary>The GEMM; <paramref name="panelFloats"/> bounds each float32 panel (smaller values exercise the splitting in tests).</summary>
    public static void Run(IGemmPanels dev, bool transA, bool transB, int m, int n, int k, float alpha,
        GemmOperand a, GemmOperand b, float beta, GemmOperand c, long panelFloats = PanelFloats)
    {
        ArgumentNullException.ThrowIfNull(dev);
        ArgumentOutOfRangeException.ThrowIfLessThan(panelFloats, 1);
        if (m == 0 || n == 0) return;
        bool a16 = a.Type.Is16Bit(), b16 = b.Type.Is16Bit(), c16 = c.Type.Is16Bit();
        var mc = c16 ? (int)Math.Clamp(panelFloats / n, 1, m) : m;
        var kc = a16 || b16 ? (int)Math.Clamp(panelFloats / Math.Max(a16 ? mc : 1, b16 ? n : 1), 1, Math.Max(k, 1)) : Math.Max(k, 1);

        nint cw = 0, aw = 0, bw = 0;
        using var cScratch = c16 ? dev.Rent((long)mc * n, out cw) : null;
        using var aScratch = a16 ? dev.Rent((long)mc * kc, out aw) : null;
        using var bScratch = b16 ? dev.Rent((long)kc * n, out bw) : null;
        for (var i0 = 0; i0 < m; i0 += mc)
        {
            var rows = Math.Min(mc, m - i0);
            // C rows [i0, i0 + rows): float32 in place, or a float32 panel (widened first when beta reads it).
            nint cp;
            int ldc;
            if (c16)
            {
                (cp, ldc) = (cw, n);
                if (beta != 0f) dev.Widen(c.Type, At(c, i0, 0), c.Ld, rows, n, cp, ldc);
            }
            else (cp, ldc) = (At(c, i0, 0), c.Ld);

            var p0 = 0;
            do
            {
                var depth = Math.Min(kc, k - p0);
                // op(A)[i0.., p0..]: stored A[i0.., p0..] (ld lda), or with transA stored A[p0.., i0..].
                var (ar, ac) = transA ? (depth, rows) : (rows, depth);
                var aStored = transA ? At(a, p0, i0) : At(a, i0, p0);
                var (ap, lda) = a16 ? (aw, Math.Max(ac, 1)) : (aStored, a.Ld);
                if (a16) dev.Widen(a.Type, aStored, a.Ld, ar, ac, ap, lda);
                // op(B)[p0.., all n]: stored B[p0.., 0] (depth x n), or with transB stored B[0.., p0..] (n x depth).
                var (br, bc) = transB ? (n, depth) : (depth, n);
                var bStored = transB ? At(b, 0, p0) : At(b, p0, 0);
                var (bp, ldb) = b16 ? (bw, Math.Max(bc, 1)) : (bStored, b.Ld);
                if (b16) dev.Widen(b.Type, bStored, b.Ld, br, bc, bp, ldb);

                dev.Sgemm(transA, transB, rows, n, depth, alpha, ap, lda, bp, ldb, p0 == 0 ? beta : 1f, cp, ldc);
                p0 += depth;
            } while (p0 < k);

            if (c16) dev.Narrow(c.Type, cp, ldc, rows, n, At(c, i0, 0), c.Ld);
        }
    }

    /// <summary>Throws unless (a, b, c) is one of cublasGemmEx's 16-bit cases: a and b of one 16-bit type, c of that type or f32.</summary>
    public static void CheckGemmExTypes(DType aType, DType bType, DType cType)
    {
        if (aType != bType || !aType.Is16Bit() || (cType != aType && cType != DType.F32))
            throw new ArgumentException($"GemmEx takes a and b of one 16-bit type and c of that type or f32; got a {aType.Name()}, " +
                                        $"b {bType.Name()}, c {cType.Name()} (MixedGemm covers the other combinations).", nameof(cType));
    }

    /// <summary>Address of element (row, col) of a row-major operand.</summary>
    private static nint At(GemmOperand o, int row, int col) => o.Ptr + ((nint)row * o.Ld + col) * o.Type.Size();
}
