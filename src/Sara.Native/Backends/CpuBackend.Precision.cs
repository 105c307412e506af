using System.Buffers;
using Sara.Native.Runtime;
using Sara.Native.Tensors;

namespace Sara.Native.Backends;

// 16-bit storage, float32 compute (DESIGN 3.1): the CPU backend's dtype conversions and the 16-bit activation paths of
// its elementwise ops. Every 16-bit row is widened into a float32 row buffer, worked on in float32, and (for outputs)
// rounded back once. GEMMs with 16-bit operands go through MixedGemm (Runtime/MixedGemm.cs).
public sealed unsafe partial class CpuBackend
{
    private static GemmOperand Operand(Tensor t) => new(t.Ptr, t.DType, GemmArgs.Leading(t.Cols));

    private static Span<ushort> Bits(Tensor t) => new((void*)t.Ptr, checked((int)t.Length));

    protected override void FillBitsCore(Tensor t, uint bits)
    {
        if (t.DType == DType.F32) HostMemory.Fill32(t.Ptr, bits, t.Length);
        else HostMemory.Fill16(t.Ptr, (ushort)bits, t.Length);
    }

    protected override void ConvertCore(Tensor src, Tensor dst)
    {
        if (src.DType == DType.F32) Precision.Narrow(dst.DType, S(src), Bits(dst));
        else if (dst.DType == DType.F32) Precision.Widen(src.DType, Bits(src), S(dst));
        else
        {
            // bf16 <-> f16: exactly widened, then rounded once.
            var row = ArrayPool<float>.Shared.Rent((int)Math.Min(src.Length, 4096));
            try
            {
                for (var i = 0; i < src.Length; i += row.Length)
                {
                    var n = (int)Math.Min(row.Length, src.Length - i);
                    Precision.Widen(src.DType, Bits(src).Slice(i, n), row.AsSpan(0, n));
                    Precision.Narrow(dst.DType, row.AsSpan(0, n), Bits(dst).Slice(i, n));
                }
            }
            finally { ArrayPool<float>.Shared.Return(row); }
        }
    }

    private delegate void RowReader(ReadOnlySpan<float> row);

    private delegate void SpanAction(Span<float> row);

    /// <summary>Calls <paramref name="read"/> with each row of a 16-bit tensor widened to float32 (1-D: one row).</summary>
    private static void ReadRows16(Tensor t, RowReader read) => VisitRows16(t, row => read(row), write: false);

    /// <summary>Widens each row of a 16-bit tensor, lets <paramref name="update"/> change it in float32, rounds it back once.</summary>
    private static void ForEachRow16(Tensor t, SpanAction update) => VisitRows16(t, update, write: true);

    private static void VisitRows16(Tensor t, SpanAction visit, bool write)
    {
        int rows = t.Rank == 2 ? t.Rows : 1, cols = t.Rank == 2 ? t.Cols : (int)t.Length;
        var buffer = ArrayPool<float>.Shared.Rent(Math.Max(cols, 1));
        try
        {
            var row = buffer.AsSpan(0, cols);
            var bits = Bits(t);
            for (var r = 0; r < rows; r++)
            {
                var stored = bits.Slice(r * cols, cols);
                Precision.Widen(t.DType, stored, row);
                visit(row);
                if (write) Precision.Narrow(t.DType, row, stored);
            }
        }
        finally { ArrayPool<float>.Shared.Return(buffer); }
    }

    /// <summary>y = a x + b y with 16-bit x and/or y: float32 arithmetic, one rounding into a 16-bit y.</summary>
    private static void Axpby16(float a, Tensor x, float b, Tensor y)
    {
        const int chunk = 4096;
        var xb = ArrayPool<float>.Shared.Rent(chunk);
        var yb = ArrayPool<float>.Shared.Rent(chunk);
        try
        {
            for (long i = 0; i < y.Length; i += chunk)
            {
                var n = (int)Math.Min(chunk, y.Length - i);
                Span<float> xs = xb.AsSpan(0, n), ys = yb.AsSpan(0, n);
                if (x.DType == DType.F32) S(x).Slice((int)i, n).CopyTo(xs);
                else Precision.Widen(x.DType, Bits(x).Slice((int)i, n), xs);
                if (b != 0f)
                {
                    if (y.DType == DType.F32) S(y).Slice((int)i, n).CopyTo(ys);
                    else Precision.Widen(y.DType, Bits(y).Slice((int)i, n), ys);
                }
                for (var j = 0; j < n; j++) ys[j] = a * xs[j] + (b == 0f ? 0f : b * ys[j]);
                if (y.DType == DType.F32) ys.CopyTo(S(y).Slice((int)i, n));
                else Precision.Narrow(y.DType, ys, Bits(y).Slice((int)i, n));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(xb);
            ArrayPool<float>.Shared.Return(yb);
        }
    }
}
