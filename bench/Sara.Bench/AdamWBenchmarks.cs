// AdamWBenchmarks.cs — one AdamW step over all of a layer's trainable parameters: SARA's adapter (lambda, A, B),
// Mo-SARA's (Lambda, Wg, bg), and the dense layer's W for scale. Gradients come from one real backward in the setup.
using BenchmarkDotNet.Attributes;
using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Optim;
using Sara.Native.Tensors;

namespace Sara.Bench;

public class AdamWBenchmarks
{
    private Backend _backend = null!;
    private readonly List<IDisposable> _owned = [];
    private (AdamW Opt, Tape Tape) _dense, _sara, _mosara;

    public static IEnumerable<LayerShape> AllShapes => Shapes.Layers;

    [ParamsSource(nameof(AllShapes))]
    public LayerShape Shape { get; set; } = Shapes.Layers[0];

    [GlobalSetup]
    public void Setup()
    {
        _backend = Shapes.CreateBackend();
        var layers = new BenchLayers(_backend, Shape);
        _owned.Add(layers);
        var options = new AdamWOptions(LearningRate: 1e-4f, WeightDecay: 0.01f);
        (AdamW, Tape) Prepare(Func<Tape, Variable, Variable> forward, IEnumerable<Variable> parameters)
        {
            var tape = new Tape();
            using (var scope = new TensorScope())
            {
                var y = forward(tape, layers.X);
                tape.Seed(y, layers.G);
                tape.Backward();
            }
            var opt = new AdamW(parameters, options);
            _owned.Add(opt);
            return (opt, tape);
        }
        _dense = Prepare(layers.Dense.Forward, layers.Dense.Parameters);
        _sara = Prepare(layers.Sara.Forward, layers.Sara.Parameters);
        _mosara = Prepare(layers.MoSara.Forward, layers.MoSara.Parameters);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var d in _owned) d.Dispose();
        _owned.Clear();
        _backend.Dispose();
    }

    [Benchmark] public void AdamWDense() { _dense.Opt.Step(_dense.Tape); _backend.Synchronize(); }
    [Benchmark] public void AdamWSara() { _sara.Opt.Step(_sara.Tape); _backend.Synchronize(); }
    [Benchmark] public void AdamWMoSara() { _mosara.Opt.Step(_mosara.Tape); _backend.Synchronize(); }
}
