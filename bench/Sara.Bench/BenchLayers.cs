// BenchLayers.cs — the three layers every layer benchmark compares, built the same way everywhere (fixed seeds):
// dense Linear (trainable W), SaraLinear (lambda, A, B trainable), MoSaraLinear (E = Shapes.Experts), plus an input
// that requires a gradient (a layer inside a network) and an upstream gradient G. The weight (W, W0) is stored in
// `weights` (f32, or bf16 for the mixed-precision rows: the same values rounded; activations stay f32). Shared by the
// BenchmarkDotNet suite and the GPU check (bench/Sara.DeviceCheck links this file).
using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Layers;
using Sara.Native.Tensors;

namespace Sara.Bench;

public sealed class BenchLayers : IDisposable
{
    public BenchLayers(Backend backend, LayerShape shape, DType weights = DType.F32)
    {
        var (t, n, m, k) = (shape.T, shape.N, shape.M, shape.K);
        var w0 = SeededGaussian.Normal((long)m * n, 1 / Math.Sqrt(n), 1);
        var a = SeededGaussian.Normal((long)m * k, 1 / Math.Sqrt(m), 2);
        var b = SeededGaussian.Normal((long)k * n, 1 / Math.Sqrt(n), 3);
        Dense = new Linear(backend, w0, m, n, weightType: weights);
        Sara = SaraLinear.FromFactors(backend, "sara", w0, m, n, null, a, b, k, SeededGaussian.Normal(k, 0.1, 4),
            new SaraOptions { W0DType = weights });
        MoSara = MoSaraLinear.FromFactors(backend, "mosara", w0, m, n, null, a, b, k,
            new MoSaraOptions { Experts = Shapes.Experts, CollectRouterStats = false, W0DType = weights },
            lambdas: SeededGaussian.Normal((long)Shapes.Experts * k, 0.1, 5));
        using (TensorScope.Suspend())
        {
            X = Variable.Parameter(backend.FromArray(SeededGaussian.Normal((long)t * n, 1, 6), t, n), "x");
            G = backend.FromArray(SeededGaussian.Normal((long)t * m, 1, 7), t, m);
        }
    }

    public Linear Dense { get; }
    public SaraLinear Sara { get; }
    public MoSaraLinear MoSara { get; }
    public Variable X { get; }
    public Tensor G { get; }

    public void Dispose()
    {
        Dense.Dispose();
        Sara.Dispose();
        MoSara.Dispose();
        X.Dispose();
        G.Dispose();
    }
}
