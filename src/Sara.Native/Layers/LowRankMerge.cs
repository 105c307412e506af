using System.Runtime.InteropServices;
using Sara.Bindings;
using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Native.Layers;

/// <summary>
/// W0 += s A diag(lambda) B for a 16-bit W0 (DESIGN 3.1): every element summed in float64 and rounded once to nearest even,
/// so it is within one ulp of the float64 merge even where the update cancels most of W0 (a float32 sum's error grows
/// with the terms, not the result, and there exceeds half an ulp). Runs on the host a row panel at a time: the 16-bit
/// rows come down, the panel is W0 + AL B by OpenBLAS's dgemm (AL = s A diag(lambda), k columns), and the rounded bits go
/// back. The largest buffer is one float64 panel of at most 4 MiB; W0 never exists in float32 or float64 whole.
/// </summary>
internal static class LowRankMerge
{
    private const long PanelBytes = 4 << 20;

    public static unsafe void Apply(Backend backend, Tensor w0, Tensor a, Tensor lambda, Tensor b, double scale)
    {
        int m = w0.Rows, n = w0.Cols, k = a.Cols;
        var (av, lv, bv) = (a.ToArray(), lambda.ToArray(), b.ToArray());
        var al = new double[(long)m * k];
        for (var i = 0; i < m; i++)
            for (var p = 0; p < k; p++) al[(long)i * k + p] = scale * av[(long)i * k + p] * lv[p];
        var bd = Array.ConvertAll(bv, x => (double)x);
        var rows = (int)Math.Clamp(PanelBytes / (8L * n), 1, m);
        var panel = new double[(long)rows * n];
        var bits = new ushort[(long)rows * n];
        NativeLibraries.Load(Lib.OpenBlas);
        for (var r0 = 0; r0 < m; r0 += rows)
        {
            var count = Math.Min(rows, m - r0);
            var len = count * n;
            var stored = bits.AsSpan(0, len);
            backend.DownloadBytes(w0, MemoryMarshal.AsBytes(stored), (long)r0 * n * 2);
            for (var i = 0; i < len; i++) panel[i] = Precision.From16(w0.DType, stored[i]);
            fixed (double* pa = &al[(long)r0 * k], pb = bd, pc = panel)
                OpenBlas.Dgemm(OpenBlas.RowMajor, OpenBlas.NoTrans, OpenBlas.NoTrans, count, n, k, 1.0, (nint)pa, Math.Max(k, 1),
                    (nint)pb, Math.Max(n, 1), 1.0, (nint)pc, Math.Max(n, 1));
            for (var i = 0; i < len; i++) stored[i] = Precision.To16(w0.DType, panel[i]);
            backend.UploadBytes(w0, MemoryMarshal.AsBytes(stored), (long)r0 * n * 2);
        }
    }
}
