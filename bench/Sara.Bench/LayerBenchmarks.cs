// LayerBenchmarks.cs — forward and forward+backward of the dense baseline (trainable W, full fine-tuning) vs SaraLinear
// (lambda, A, B trainable) vs MoSaraLinear (E = 4), at the (T, n, m, k). The input requires a gradient (a layer
// inside a network), so every backward forms dX; the frozen W0 gets no gradient in SARA / Mo-SARA.
using BenchmarkDotNet.Attributes;
using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Bench;

public class LayerBenchmarks
{
    private Backend _backend = null!;
    private BenchLayers _layers = null!;

    public static IEnumerable<LayerShape> AllShapes => Shapes.Layers;

    [ParamsSource(nameof(AllShapes))]
    public LayerShape Shape { get; set; } = Shapes.Layers[0];

    [GlobalSetup]
    public void Setup()
    {
        _backend = Shapes.CreateBackend();
        _layers = new BenchLayers(_backend, Shape);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _layers.Dispose();
        _backend.Dispose();
    }

    private void Step(Func<Tape, Variable, Variable> forward, bool backward)
    {
        using var scope = new TensorScope();
        var tape = new Tape();
        var y = forward(tape, _layers.X);
        if (backward)
        {
            tape.Seed(y, _layers.G);
            tape.Backward();
        }
        _backend.Synchronize();
    }

    [Benchmark] public void DenseForward() => Step(_layers.Dense.Forward, false);
    [Benchmark] public void SaraForward() => Step(_layers.Sara.Forward, false);
    [Benchmark] public void MoSaraForward() => Step(_layers.MoSara.Forward, false);
    [Benchmark] public void DenseForwardBackward() => Step(_layers.Dense.Forward, true);
    [Benchmark] public void SaraForwardBackward() => Step(_layers.Sara.Forward, true);
    [Benchmark] public void MoSaraForwardBackward() => Step(_layers.MoSara.Forward, true);
}
