using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Layers;
using Sara.Native.Svd;

namespace Sara.Cli.Demo;

/// <summary>A layer of the demo MLP, whichever kind (dense, SARA, Mo-SARA): its forward and its trainable parameters.</summary>
internal sealed record ModelLayer(string Name, Func<Tape, Variable, Variable> Forward, IReadOnlyList<Variable> Parameters, IDisposable Owner);

/// <summary>
/// The demo network: l1 -> ReLU -> l2 -> ReLU -> l3 (logits), every step on the chosen backend (ReLU is the library's
/// device op). Each of the three layers is a dense <see cref="Linear"/>, a <see cref="SaraLinear"/>, a <see cref="MoSaraLinear"/>
/// or a <see cref="LoraLinear"/>.
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

    /// <summary>SARA layers on <paramref name="w"/> from the given factors (one rank plan and SVD serves every run of the search).</summary>
    public static DemoModel Sara(Backend backend, HostMlp w, IReadOnlyList<SaraFactors> factors, SaraOptions options) =>
        new(w.Layers.Zip(factors, (l, f) =>
        {
            var s = SaraLinear.FromFactors(backend, l.Name, l.Weight, l.Rows, l.Cols, l.Bias, f.A, f.B, f.K, null, options);
            return new ModelLayer(s.Name, s.Forward, s.Parameters.ToList(), s);
        }).ToList());

    /// <summary>Mo-SARA layers on <paramref name="w"/> from the same frozen factors (A = U_k, B = V_k^T).</summary>
    public static DemoModel MoSara(Backend backend, HostMlp w, IReadOnlyList<SaraFactors> factors, MoSaraOptions options) =>
        new(w.Layers.Zip(factors, (l, f) =>
        {
            var s = MoSaraLinear.FromFactors(backend, l.Name, l.Weight, l.Rows, l.Cols, l.Bias, f.A, f.B, f.K, options);
            return new ModelLayer(s.Name, s.Forward, s.Parameters.ToList(), s);
        }).ToList());

    /// <summary>LoRA layers (PEFT's initialisation) of rank <paramref name="rank"/>, lora_A of layer i drawn from seed + i.</summary>
    public static DemoModel Lora(Backend backend, HostMlp w, int rank, double alpha, int seed) =>
        new(w.Layers.Select((l, i) =>
        {
            var s = LoraLinear.FromPretrained(backend, l.Name, l.Weight, l.Rows, l.Cols, l.Bias, new LoraOptions { Rank = rank, Alpha = alpha, Seed = seed + i });
            return new ModelLayer(s.Name, s.Forward, s.Parameters.ToList(), s);
        }).ToList());

    /// <summary>The layers' owners as <typeparamref name="T"/> (SaraLinear, MoSaraLinear, LoraLinear).</summary>
    public IReadOnlyList<T> Owners<T>() => Layers.Select(l => (T)l.Owner).ToList();

    public void Dispose()
    {
        foreach (var l in Layers) l.Owner.Dispose();
    }
}

/// <summary>A layer's SARA factors on the host: A = U_k (Rows x K), B = V_k^T (K x Cols), and how k was chosen.</summary>
public sealed record SaraFactors(int K, float[] A, float[] B, LayerRank Plan);

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
