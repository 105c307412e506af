// AdamWBenchmarks.cs — one AdamW step over all of a layer's trainable parameters: SARA's adapter (lambda, A, B),
// Mo-SARA's (Lambda, Wg, bg), and the dense layer's W for scale. Gradients come from one real backward in the setup.
using BenchmarkDotNet.Attributes;
using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Layers;
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
        var (t, n, m, k) = (Shape.T, Shape.N, Shape.M, Shape.K);
        _backend = Shapes.CreateBackend();
        var w0 = BenchData.Normal((long)m * n, 1 / Math.Sqrt(n), 1);
        var a = BenchData.Normal((long)m * k, 1 / Math.Sqrt(m), 2);
        var b = BenchData.Normal((long)k * n, 1 / Math.Sqrt(n), 3);
        var dense = new Linear(_backend, w0, m, n);
        var sara = SaraLinear.FromFactors(_backend, "sara", w0, m, n, null, a, b, k, BenchData.Normal(k, 0.1, 4));
        var mosara = MoSaraLinear.FromFactors(_backend, "mosara", w0, m, n, null, a, b, k,
            new MoSaraOptions { Experts = Shapes.Experts, CollectRouterStats = false });
        Tensor x, g;
        using (TensorScope.Suspend())
        {
            x = _backend.FromArray(BenchData.Normal((long)t * n, 1, 6), t, n);
            g = _backend.FromArray(BenchData.Normal((long)t * m, 1, 7), t, m);
        }
        _owned.AddRange([dense, sara, mosara, x, g]);
        var options = new AdamWOptions(LearningRate: 1e-4f, WeightDecay: 0.01f);
        (AdamW, Tape) Prepare(Func<Tape, Variable, Variable> forward, IEnumerable<Variable> parameters)
        {
            var tape = new Tape();
            using (var scope = new TensorScope())
            {
                var y = forward(tape, new Variable(x));
                tape.Seed(y, g);
                tape.Backward();
            }
            var opt = new AdamW(parameters, options);
            _owned.Add(opt);
            return (opt, tape);
        }
        _dense = Prepare(dense.Forward, dense.Parameters);
        _sara = Prepare(sara.Forward, sara.Parameters);
        _mosara = Prepare(mosara.Forward, mosara.Parameters);
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
