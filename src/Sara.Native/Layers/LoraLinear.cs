using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Native.Layers;

/// <summary>
/// LoRA (Hu et al.; PEFT's <c>lora.Linear</c>) beside a frozen dense layer: <c>Y = X W0^T + b + scaling (X A^T) B^T</c>,
/// A = lora_A (r x n), B = lora_B (m x r), both trained. PEFT's initialisation: A Kaiming-uniform with a = sqrt(5),
/// i.e. U(-1/sqrt(n), 1/sqrt(n)) (drawn from <see cref="LoraOptions.Seed"/>), B zero, so the layer starts equal to W0's.
/// The baseline SARA is compared with; every step is GEMMs on the backend (no kernel of its own).
/// Backward, with H = X A^T: dB = scaling G^T H, dH = scaling G B, dA = dH^T X, dX = G W0 + dH A.
/// </summary>
public sealed class LoraLinear : IDisposable
{
    private LoraLinear(Backend backend, string name, Tensor w0, Tensor? bias, Tensor a, Tensor b, LoraOptions options)
    {
        Backend = backend;
        Name = name;
        Options = options;
        W0 = w0;
        Bias = bias is null ? null : options.TrainBias ? Variable.Parameter(bias, $"{name}.bias") : new Variable(bias, false, $"{name}.bias");
        LoraA = Variable.Parameter(a, $"{name}.lora_A");
        LoraB = Variable.Parameter(b, $"{name}.lora_B");
    }

    /// <summary>A fresh LoRA on W0 (m x n, row-major): lora_A from PEFT's Kaiming-uniform draw, lora_B zero.</summary>
    public static LoraLinear FromPretrained(Backend backend, string name, float[] w0, int m, int n, float[]? bias = null, LoraOptions? options = null)
    {
        options ??= new LoraOptions();
        options.Validate();
        var rng = new Random(options.Seed);
        var bound = 1 / Math.Sqrt(n);
        var a = new float[(long)options.Rank * n];
        for (var i = 0; i < a.Length; i++) a[i] = (float)((2 * rng.NextDouble() - 1) * bound);
        return FromFactors(backend, name, w0, m, n, bias, a, new float[(long)m * options.Rank], options);
    }

    /// <summary>Given factors: lora_A (r x n) and lora_B (m x r), r = options.Rank.</summary>
    public static LoraLinear FromFactors(Backend backend, string name, float[] w0, int m, int n, float[]? bias, float[] loraA, float[] loraB,
        LoraOptions? options = null)
    {
        options ??= new LoraOptions();
        options.Validate();
        var r = options.Rank;
        if (loraA.Length != (long)r * n) throw new ArgumentException($"Layer '{name}': lora_A must be {r} x {n}; got {loraA.Length} values.", nameof(loraA));
        if (loraB.Length != (long)m * r) throw new ArgumentException($"Layer '{name}': lora_B must be {m} x {r}; got {loraB.Length} values.", nameof(loraB));
        using var _ = TensorScope.Suspend();
        var (w, b) = PretrainedFactors.Upload(backend, name, w0, m, n, bias, DType.F32);   // the LoRA baseline keeps a float32 W0
        return new LoraLinear(backend, name, w, b, backend.FromArray(loraA, r, n), backend.FromArray(loraB, m, r), options);
    }

    public Backend Backend { get; }
    public string Name { get; }
    public LoraOptions Options { get; }
    public Tensor W0 { get; }
    public Variable? Bias { get; }
    public Variable LoraA { get; }
    public Variable LoraB { get; }
    public int Rank => LoraA.Value.Rows;
    public int OutFeatures => W0.Rows;
    public int InFeatures => W0.Cols;

    public IEnumerable<Variable> Parameters => new[] { LoraA, LoraB, Bias }.Where(v => v is { RequiresGrad: true })!;

    public long TrainableParameterCount => Parameters.Sum(p => p.Value.Length);

    public Variable Forward(Tape tape, Variable x)
    {
        Linear.CheckInput(x.Value, W0);
        var s = (float)Options.Scaling;
        var h = Backend.Empty(x.Value.Rows, Rank);
        Backend.Gemm(x.Value, false, LoraA.Value, true, h);
        var y = Backend.Empty(x.Value.Rows, OutFeatures);
        Backend.Gemm(h, false, LoraB.Value, true, y, s, 0f);
        Linear.DenseAccumulate(Backend, x.Value, W0, Bias?.Value, y);
        var output = new Variable(y, true);
        tape.Record(() => Backward(tape, output, x, h, s));
        return output;
    }

    private void Backward(Tape tape, Variable output, Variable x, Tensor h, float s)
    {
        if (!output.HasGrad(tape)) return;
        var g = output.Grad!;
        var (db, bb) = LoraB.GradTarget(tape);
        Backend.Gemm(g, true, h, false, db, s, bb);
        var dh = Backend.Empty(g.Rows, Rank);
        Backend.Gemm(g, false, LoraB.Value, false, dh, s, 0f);
        var (da, ba) = LoraA.GradTarget(tape);
        Backend.Gemm(dh, true, x.Value, false, da, 1f, ba);
        if (Bias is { RequiresGrad: true })
        {
            var (dbias, bbias) = Bias.GradTarget(tape);
            Backend.ColumnSum(g, dbias, bbias);
        }
        if (x.RequiresGrad)
        {
            var (dx, bx) = x.GradTarget(tape);
            Backend.Gemm(dh, false, LoraA.Value, false, dx, 1f, bx);
            Backend.Gemm(g, false, W0, false, dx, 1f, 1f);
        }
    }

    public void Dispose()
    {
        W0.Dispose();
        Bias?.Dispose();
        LoraA.Dispose();
        LoraB.Dispose();
    }
}
