// SvdBenchmarks.cs — randomized truncated SVD (k leading triplets) vs all singular values from the vendor solver
// (LAPACK sgesdd on the CPU, cuSOLVER on the GPU), on n x n matrices with a power-law spectrum (Shapes.SpectrumExponent).
using BenchmarkDotNet.Attributes;
using Sara.Native.Backends;
using Sara.Native.Svd;
using Sara.Native.Tensors;

namespace Sara.Bench;

/// <summary>The n x n test weight on the bench's device, shared by both SVD benchmarks.</summary>
public abstract class SvdBenchmarkBase
{
    protected Backend Backend { get; private set; } = null!;
    protected Tensor W { get; private set; } = null!;

    [ParamsSource(nameof(NValues))] public int N { get; set; }

    public static IEnumerable<int> NValues => Shapes.SvdN;

    [GlobalSetup]
    public void Setup()
    {
        Backend = Shapes.CreateBackend();
        W = Backend.FromArray(BenchData.WithPowerLawSpectrum(N, Shapes.SpectrumExponent, 11).W, N, N);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        W.Dispose();
        Backend.Dispose();
    }
}

public class TruncatedSvdBenchmarks : SvdBenchmarkBase
{
    [ParamsSource(nameof(KValues))] public int K { get; set; }

    public static IEnumerable<int> KValues => Shapes.SvdK;

    /// <summary>The options the accuracy column is measured with (oversampling k, 5 power iterations).</summary>
    public static SvdOptions Options(int k) => new(k, Oversampling: k, PowerIterations: 5, Seed: k);

    [Benchmark]
    public void Truncated()
    {
        using var svd = TruncatedSvd.Compute(Backend, W, Options(K));
        Backend.Synchronize();
    }
}

public class ExactSvdBenchmarks : SvdBenchmarkBase
{
    [Benchmark]
    public float[] Exact() => TruncatedSvd.ExactSingularValues(Backend, W);
}
