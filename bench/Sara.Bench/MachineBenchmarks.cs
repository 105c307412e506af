// MachineBenchmarks.cs — this machine's ceilings, measured in the same run as the kernels: the FMA peak (register-only
// fused multiply-adds on every core, the widest vectors the CPU runs), sgemm GFLOP/s through the backend's GEMM (2048^3)
// and memory bandwidth through the backend's copy (256 MiB read + 256 MiB written).
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Bench;

public class MachineBenchmarks
{
    public const int GemmN = 2048;
    public const int CopyFloats = 64 << 20;

    /// <summary>Steps of the FMA-peak loop per core; each step is 10 independent FMAs on full-width vectors.</summary>
    public const long FmaSteps = 20_000_000;

    /// <summary>Flops of one <see cref="FmaPeak"/> call: cores x steps x 10 FMAs x lanes x 2.</summary>
    public static double FmaPeakFlops => (double)Environment.ProcessorCount * FmaSteps * 10 * FmaLanes * 2;

    private static int FmaLanes => Vector512.IsHardwareAccelerated ? Vector512<float>.Count : Vector256<float>.Count;

    private Backend _backend = null!;
    private Tensor _a = null!, _b = null!, _c = null!, _src = null!, _dst = null!;

    [GlobalSetup]
    public void Setup()
    {
        _backend = Shapes.CreateBackend();
        _a = _backend.FromArray(SeededGaussian.Normal((long)GemmN * GemmN, 1, 21), GemmN, GemmN);
        _b = _backend.FromArray(SeededGaussian.Normal((long)GemmN * GemmN, 1, 22), GemmN, GemmN);
        _c = _backend.Zeros(GemmN, GemmN);
        _src = _backend.Zeros(CopyFloats);
        _backend.Fill(_src, 1.5f);
        _dst = _backend.Zeros(CopyFloats);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _a, _b, _c, _src, _dst }) t.Dispose();
        _backend.Dispose();
    }

    [Benchmark]
    public void Sgemm2048()
    {
        _backend.Gemm(_a, false, _b, false, _c);
        _backend.Synchronize();
    }

    /// <summary>
    /// The CPU's floating-point peak: every core runs 10 independent FMA chains in registers (enough to cover the FMA
    /// latency on two pipes), on 512-bit vectors where the CPU has them. No memory traffic: an upper bound no kernel beats.
    /// </summary>
    [Benchmark]
    public float FmaPeak()
    {
        var sums = new float[Environment.ProcessorCount];
        Parallel.For(0, sums.Length, new ParallelOptions { MaxDegreeOfParallelism = sums.Length },
            i => sums[i] = Vector512.IsHardwareAccelerated ? Chains512(i) : Chains256(i));
        return sums.Sum();
    }

    private static float Chains512(int seed)
    {
        var a0 = Vector512.Create(seed * 1e-3f); Vector512<float> a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
        var x = Vector512.Create(0.9999f);
        var y = Vector512.Create(1e-4f);
        for (var s = 0L; s < FmaSteps; s++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, x, y); a1 = Vector512.FusedMultiplyAdd(a1, x, y);
            a2 = Vector512.FusedMultiplyAdd(a2, x, y); a3 = Vector512.FusedMultiplyAdd(a3, x, y);
            a4 = Vector512.FusedMultiplyAdd(a4, x, y); a5 = Vector512.FusedMultiplyAdd(a5, x, y);
            a6 = Vector512.FusedMultiplyAdd(a6, x, y); a7 = Vector512.FusedMultiplyAdd(a7, x, y);
            a8 = Vector512.FusedMultiplyAdd(a8, x, y); a9 = Vector512.FusedMultiplyAdd(a9, x, y);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9);
    }

    private static float Chains256(int seed)
    {
        var a0 = Vector256.Create(seed * 1e-3f); Vector256<float> a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
        var x = Vector256.Create(0.9999f);
        var y = Vector256.Create(1e-4f);
        for (var s = 0L; s < FmaSteps; s++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, x, y); a1 = Vector256.FusedMultiplyAdd(a1, x, y);
            a2 = Vector256.FusedMultiplyAdd(a2, x, y); a3 = Vector256.FusedMultiplyAdd(a3, x, y);
            a4 = Vector256.FusedMultiplyAdd(a4, x, y); a5 = Vector256.FusedMultiplyAdd(a5, x, y);
            a6 = Vector256.FusedMultiplyAdd(a6, x, y); a7 = Vector256.FusedMultiplyAdd(a7, x, y);
            a8 = Vector256.FusedMultiplyAdd(a8, x, y); a9 = Vector256.FusedMultiplyAdd(a9, x, y);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9);
    }

    [Benchmark]
    public void Copy256MiB()
    {
        _backend.Copy(_src, _dst);
        _backend.Synchronize();
    }
}
