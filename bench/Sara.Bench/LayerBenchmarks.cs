// LayerBenchmarks.cs — forward and forward+backward of the dense baseline (trainable W, full fine-tuning) vs SaraLinear
// (lambda, A, B trainable) vs MoSaraLinear (E = 4), at the (T, n, m, k). The input requires a gradient (a layer
// inside a network), so every backward forms dX; the frozen W0 gets no gradient in SARA / Mo-SARA. The *Bf16 cases are
// the same layers with W (W0) stored in bf16 and float32 activations (issue 13): the dense one is the compute copy of a
// mixed-precision full fine-tune (its dW is float32).
using BenchmarkDotNet.Attributes;
using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Bench;

public class LayerBenchmarks
{
    private Backend _backend = null!;
    private BenchLayers _layers = null!, _bf16 = null!;

    public static IEnumerable<LayerShape> AllShapes => Shapes.Layers;

    [ParamsSource(nameof(AllShapes))]
    public LayerShape Shape { get; set; } = Shapes.Layers[0];

    [GlobalSetup]
    public void Setup()
    {
        _backend = Shapes.CreateBackend();
        _layers = new BenchLayers(_backend, Shape);
        _bf16 = new BenchLayers(_backend, Shape, DType.BF16);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _layers.Dispose();
        _bf16.Dispose();
        _backend.Dispose();
    }

    private void Step(Func<Tape, Variable, Variable> forward, bool backward) => Step(_layers, forward, backward);

    private void Step(BenchLayers layers, Func<Tape, Variable, Variable> forward, bool backward)
    {
        using var scope = new TensorScope();
        var tape = new Tape();
        var y = forward(tape, layers.X);
        if (backward)
        {
            tape.Seed(y, layers.G);
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
    [Benchmark] public void DenseForwardBf16() => Step(_bf16, _bf16.Dense.Forward, false);
    [Benchmark] public void SaraForwardBf16() => Step(_bf16, _bf16.Sara.Forward, false);
    [Benchmark] public void DenseForwardBackwardBf16() => Step(_bf16, _bf16.Dense.Forward, true);
    [Benchmark] public void SaraForwardBackwardBf16() => Step(_bf16, _bf16.Sara.Forward, true);
    [Benchmark] public void MoSaraForwardBackwardBf16() => Step(_bf16, _bf16.MoSara.Forward, true);
}
