// SvdBenchmarks.cs — randomized truncated SVD (k leading triplets) vs all singular values from the vendor solver
// (LAPACK sgesdd on the CPU, cuSOLVER on the GPU), on n x n matrices with a power-law spectrum (Shapes.SpectrumExponent).
using BenchmarkDotNet.Attributes;
using Sara.Native.Backends;
using Sara.Native.Svd;
using Sara.Native.Tensors;

namespace Sara.Bench;

public class TruncatedSvdBenchmarks
{
    private Backend _backend = null!;
    private Tensor _w = null!;

    [ParamsSource(nameof(NValues))] public int N { get; set; }
    [ParamsSource(nameof(KValues))] public int K { get; set; }

    public static IEnumerable<int> NValues => Shapes.SvdN;
    public static IEnumerable<int> KValues => Shapes.SvdK;

    /// <summary>The options the accuracy column is measured with: the library's accuracy-grade setting (as its tests).</summary>
    public static SvdOptions Options(int k) => new(k, Oversampling: k, PowerIterations: 5, Seed: k);

    [GlobalSetup]
    public void Setup()
    {
        _backend = Shapes.CreateBackend();
        _w = _backend.FromArray(BenchData.WithPowerLawSpectrum(N, Shapes.SpectrumExponent, 11).W, N, N);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _w.Dispose();
        _backend.Dispose();
    }

    [Benchmark]
    public void Truncated()
    {
        using var svd = TruncatedSvd.Compute(_backend, _w, Options(K));
        _backend.Synchronize();
    }
}

public class ExactSvdBenchmarks
{
    private Backend _backend = null!;
    private Tensor _w = null!;

    [ParamsSource(nameof(NValues))] public int N { get; set; }

    public static IEnumerable<int> NValues => Shapes.SvdN;

    [GlobalSetup]
    public void Setup()
    {
        _backend = Shapes.CreateBackend();
        _w = _backend.FromArray(BenchData.WithPowerLawSpectrum(N, Shapes.SpectrumExponent, 11).W, N, N);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _w.Dispose();
        _backend.Dispose();
    }

    [Benchmark]
    public float[] Exact() => TruncatedSvd.ExactSingularValues(_backend, _w);
}
