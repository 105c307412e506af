using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Layers;

namespace Sara.Cli.Demo;

/// <summary>A layer of the demo MLP, whichever kind (dense, SARA, Mo-SARA): its forward and its trainable parameters.</summary>
internal sealed record ModelLayer(string Name, Func<Tape, Variable, Variable> Forward, IReadOnlyList<Variable> Parameters, IDisposable Owner);

/// <summary>
/// The demo network: l1 -> ReLU -> l2 -> ReLU -> l3 (logits), every step on the chosen backend (ReLU is the library's
/// device op). Each of the three layers is a dense <see cref="Linear"/>, a <see cref="SaraLinear"/> or a <see cref="MoSaraLinear"/>.
/// </summary>
internal sealed class DemoModel(IReadOnlyList<ModelLayer> layers) : IDisposable
{
    public IReadOnlyList<ModelLayer> Layers { get; } = layers;

    public IEnumerable<Variable> Parameters => Layers.SelectMany(l => l.Parameters);

    public long TrainableParameterCount => Parameters.Sum(p => p.Value.Length);

    public Variable Forward(Tape tape, Variable x)
    {
        var h = x;
        for (var i = 0; i < Layers.Count; i++)
        {
            h = Layers[i].Forward(tape, h);
            if (i < Layers.Count - 1) h = Activations.Relu(tape, h);
        }
        return h;
    }

    public static DemoModel Dense(Backend backend, HostMlp w) => new(w.Layers.Select(l =>
    {
        var lin = new Linear(backend, l.Weight, l.Rows, l.Cols, l.Bias);
        return new ModelLayer(l.Name, lin.Forward, lin.Parameters.ToList(), lin);
    }).ToList());

    public static DemoModel Sara(Backend backend, HostMlp w, SaraOptions options, out List<SaraLinear> saraLayers)
    {
        var list = w.Layers.Select(l => SaraLinear.FromPretrained(backend, l.Name, l.Weight, l.Rows, l.Cols, l.Bias, options)).ToList();
        saraLayers = list;
        return new(list.Select(s => new ModelLayer(s.Name, s.Forward, s.Parameters.ToList(), s)).ToList());
    }

    public static DemoModel MoSara(Backend backend, HostMlp w, MoSaraOptions options, out List<MoSaraLinear> moLayers)
    {
        var list = w.Layers.Select(l => MoSaraLinear.FromPretrained(backend, l.Name, l.Weight, l.Rows, l.Cols, l.Bias, options)).ToList();
        moLayers = list;
        return new(list.Select(s => new ModelLayer(s.Name, s.Forward, s.Parameters.ToList(), s)).ToList());
    }

    public void Dispose()
    {
        foreach (var l in Layers) l.Owner.Dispose();
    }
}

/// <summary>One dense layer's weights on the host: W (Rows x Cols = out x in, row-major) and bias (Rows).</summary>
public sealed record HostLayer(string Name, int Rows, int Cols, float[] Weight, float[] Bias);

/// <summary>The MLP's weights on the host (what is saved as base_model.safetensors: "&lt;name&gt;.weight", "&lt;name&gt;.bias").</summary>
public sealed record HostMlp(IReadOnlyList<HostLayer> Layers)
{
    public static HostMlp Init(int[] widths, int seed)
    {
        var rng = new Random(seed);
        var layers = new List<HostLayer>();
        for (var i = 0; i + 1 < widths.Length; i++)
        {
            int n = widths[i], m = widths[i + 1];
            layers.Add(new HostLayer($"l{i + 1}", m, n, SyntheticTask.Gaussian(rng, m * n, Math.Sqrt(2.0 / n)), new float[m]));
        }
        return new HostMlp(layers);
    }

    /// <summary>Logits of the MLP for <paramref name="count"/> inputs, in float64 on the host (ReLU between layers).</summary>
    public double[] Logits(float[] inputs, int count)
    {
        var h = inputs.Select(v => (double)v).ToArray();
        var width = Layers[0].Cols;
        for (var li = 0; li < Layers.Count; li++)
        {
            var l = Layers[li];
            var next = new double[count * l.Rows];
            for (var s = 0; s < count; s++)
                for (var o = 0; o < l.Rows; o++)
                {
                    double acc = l.Bias[o];
                    for (var c = 0; c < width; c++) acc += l.Weight[o * l.Cols + c] * h[s * width + c];
                    next[s * l.Rows + o] = li < Layers.Count - 1 ? Math.Max(acc, 0) : acc;
                }
            h = next;
            width = l.Rows;
        }
        return h;
    }
}
