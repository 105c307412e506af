// MachineBenchmarks.cs — this machine's ceilings, measured in the same run as the kernels: sgemm GFLOP/s through the
// backend's GEMM (2048^3) and memory bandwidth through the backend's copy (256 MiB read + 256 MiB written).
using BenchmarkDotNet.Attributes;
using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Bench;

public class MachineBenchmarks
{
    public const int GemmN = 2048;
    public const int CopyFloats = 64 << 20;

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

    [Benchmark]
    public void Copy256MiB()
    {
        _backend.Copy(_src, _dst);
        _backend.Synchronize();
    }
}
