// LayerBenchmarks.cs — forward and forward+backward of the dense baseline (trainable W, full fine-tuning) vs SaraLinear
// (lambda, A, B trainable) vs MoSaraLinear (E = 4), at the (T, n, m, k). The input requires a gradient (a layer
// inside a network), so every backward forms dX; the frozen W0 gets no gradient in SARA / Mo-SARA.
using BenchmarkDotNet.Attributes;
using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Layers;
using Sara.Native.Tensors;

namespace Sara.Bench;

public class LayerBenchmarks
{
    private Backend _backend = null!;
    private Linear _dense = null!;
    private SaraLinear _sara = null!;
    private MoSaraLinear _mosara = null!;
    private Variable _x = null!;
    private Tensor _g = null!;

    public static IEnumerable<LayerShape> AllShapes => Shapes.Layers;

    [ParamsSource(nameof(AllShapes))]
    public LayerShape Shape { get; set; } = Shapes.Layers[0];

    [GlobalSetup]
    public void Setup()
    {
        var (t, n, m, k) = (Shape.T, Shape.N, Shape.M, Shape.K);
        _backend = Shapes.CreateBackend();
        var w0 = BenchData.Normal((long)m * n, 1 / Math.Sqrt(n), 1);
        var a = BenchData.Normal((long)m * k, 1 / Math.Sqrt(m), 2);
        var b = BenchData.Normal((long)k * n, 1 / Math.Sqrt(n), 3);
        var lam = BenchData.Normal(k, 0.1, 4);
        _dense = new Linear(_backend, w0, m, n);
        _sara = SaraLinear.FromFactors(_backend, "sara", w0, m, n, null, a, b, k, lam);
        _mosara = MoSaraLinear.FromFactors(_backend, "mosara", w0, m, n, null, a, b, k,
            new MoSaraOptions { Experts = Shapes.Experts, CollectRouterStats = false },
            lambdas: BenchData.Normal((long)Shapes.Experts * k, 0.1, 5));
        using (TensorScope.Suspend())
        {
            _x = Variable.Parameter(_backend.FromArray(BenchData.Normal((long)t * n, 1, 6), t, n), "x");
            _g = _backend.FromArray(BenchData.Normal((long)t * m, 1, 7), t, m);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _dense.Dispose();
        _sara.Dispose();
        _mosara.Dispose();
        _x.Dispose();
        _g.Dispose();
        _backend.Dispose();
    }

    private void Step(Func<Tape, Variable, Variable> forward, bool backward)
    {
        using var scope = new TensorScope();
        var tape = new Tape();
        var y = forward(tape, _x);
        if (backward)
        {
            tape.Seed(y, _g);
            tape.Backward();
        }
        _backend.Synchronize();
    }

    [Benchmark] public void DenseForward() => Step(_dense.Forward, false);
    [Benchmark] public void SaraForward() => Step(_sara.Forward, false);
    [Benchmark] public void MoSaraForward() => Step(_mosara.Forward, false);
    [Benchmark] public void DenseForwardBackward() => Step(_dense.Forward, true);
    [Benchmark] public void SaraForwardBackward() => Step(_sara.Forward, true);
    [Benchmark] public void MoSaraForwardBackward() => Step(_mosara.Forward, true);
}
