using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Ops;
using Sara.Native.Svd;
using Sara.Native.Tensors;

namespace Sara.Native.Layers;

/// <summary>
/// Mo-SARA (DESIGN 1.3): frozen A = U_k, B = V_k^T; E singular-value experts (Lambda: E x k, zero at start) mixed per token
/// by a router over H = X B^T (Wg: E x k, bg: E). Trainable parameters: 2Ek + E.
/// Cannot be merged into W0: the scaling depends on the input through the router gates. W0, A and B are frozen and may be
/// 16-bit (<see cref="MoSaraOptions.W0DType"/>, <see cref="MoSaraOptions.FactorDType"/>) on every backend.
/// </summary>
public sealed class MoSaraLinear : IDisposable
{
    private MoSaraLinear(Backend backend, string name, PretrainedFactors f, MoSaraOptions options, float[]? lambdas, float[]? wg, float[]? bg)
    {
        Backend = backend;
        Name = name;
        Options = options;
        Plan = f.Plan;
        W0 = f.W0;
        Bias = f.Bias;
        A = f.A;
        B = f.B;
        int e = options.Experts, k = f.K;
        using var _ = TensorScope.Suspend();
        Lambdas = Variable.Parameter(lambdas is null ? backend.Zeros(e, k) : backend.FromArray(lambdas, e, k), $"{name}.Lambda");
        Wg = Variable.Parameter(backend.FromArray(wg ?? SeededGaussian.Normal((long)e * k, options.RouterInitStd, options.RouterSeed), e, k), $"{name}.Wg");
        Bg = Variable.Parameter(bg is null ? backend.Zeros(e) : backend.FromArray(bg, e), $"{name}.bg");
    }

    /// <summary>Builds the layer from W0 (m x n, stored as <see cref="MoSaraOptions.W0DType"/>): rank plan and SVD as SARA's.</summary>
    public static MoSaraLinear FromPretrained(Backend backend, string name, float[] w0, int m, int n, float[]? bias = null,
        MoSaraOptions? options = null)
    {
        options ??= new MoSaraOptions();
        options.Validate();
        var (w, b) = PretrainedFactors.Upload(backend, name, w0, m, n, bias, options.W0DType);
        return FromPretrained(backend, name, w, b, options);
    }

    /// <summary>
    /// Builds the layer over a W0 already on the backend (any dtype; with an optional f32 bias [m]); the layer owns both
    /// from here on (disposed with it, or at once if this throws). Frozen A and B are stored as <see cref="MoSaraOptions.FactorDType"/>.
    /// </summary>
    public static MoSaraLinear FromPretrained(Backend backend, string name, Tensor w0, Tensor? bias = null, MoSaraOptions? options = null)
    {
        options ??= new MoSaraOptions();
        PretrainedFactors.OrDispose(options.Validate, w0, bias);
        var f = PretrainedFactors.Compute(backend, name, w0, bias, options.Rank, options.FixedRank, options.Svd, options.FactorDType);
        return new MoSaraLinear(backend, name, f, options, null, null, null);
    }

    /// <summary>Builds the layer from given frozen factors and (optionally) expert/router values — e.g. a loaded adapter.</summary>
    public static MoSaraLinear FromFactors(Backend backend, string name, float[] w0, int m, int n, float[]? bias,
        float[] a, float[] b, int k, MoSaraOptions? options = null, float[]? lambdas = null, float[]? wg = null, float[]? bg = null)
    {
        options ??= new MoSaraOptions();
        options.Validate();
        CheckRouter(name, options.Experts, k, lambdas, wg, bg);
        var (w, bt) = PretrainedFactors.Upload(backend, name, w0, m, n, bias, options.W0DType);
        return FromFactors(backend, name, w, bt, a, b, k, options, lambdas, wg, bg);
    }

    /// <summary>As the float[] overload, over a W0 already on the backend (any dtype; owned by the layer from here on).</summary>
    public static MoSaraLinear FromFactors(Backend backend, string name, Tensor w0, Tensor? bias,
        float[] a, float[] b, int k, MoSaraOptions? options = null, float[]? lambdas = null, float[]? wg = null, float[]? bg = null)
    {
        options ??= new MoSaraOptions();
        PretrainedFactors.OrDispose(() =>
        {
            options.Validate();
            CheckRouter(name, options.Experts, k, lambdas, wg, bg);
        }, w0, bias);
        var f = PretrainedFactors.FromGiven(backend, name, w0, bias, a, b, k, options.FactorDType);
        return new MoSaraLinear(backend, name, f, options, lambdas, wg, bg);
    }

    private static void CheckRouter(string name, int e, int k, float[]? lambdas, float[]? wg, float[]? bg)
    {
        if (lambdas is not null && lambdas.Length != e * k) throw new ArgumentException($"Layer '{name}': Lambda must be {e} x {k}.", nameof(lambdas));
        if (wg is not null && wg.Length != e * k) throw new ArgumentException($"Layer '{name}': Wg must be {e} x {k}.", nameof(wg));
        if (bg is not null && bg.Length != e) throw new ArgumentException($"Layer '{name}': bg must have {e} values.", nameof(bg));
    }

    public Backend Backend { get; }
    public string Name { get; }
    public MoSaraOptions Options { get; }
    /// <summary>How the rank was chosen (null when the layer was built from given factors or with a fixed rank).</summary>
    public LayerRank? Plan { get; }
    public Tensor W0 { get; }
    public Tensor? Bias { get; }
    public Tensor A { get; }
    public Tensor B { get; }
    public Variable Lambdas { get; }
    public Variable Wg { get; }
    public Variable Bg { get; }
    public int K => A.Cols;
    public int Experts => Options.Experts;
    public int OutFeatures => W0.Rows;
    public int InFeatures => W0.Cols;

    /// <summary>Router statistics of the latest forward: fraction of tokens per top expert and mean gate per expert.</summary>
    public RouterStats? LastRouterStats { get; private set; }

    /// <summary>The load-balancing loss of the latest forward (beta * E * sum_e f_e * mean_t g_te), 0 when beta is 0.</summary>
    public float LastBalanceLoss { get; private set; }

    public IEnumerable<Variable> Parameters => [Lambdas, Wg, Bg];

    public long TrainableParameterCount => Parameters.Sum(p => p.Value.Length);

    public Variable Forward(Tape tape, Variable x)
    {
        Linear.CheckInput(x.Value, W0);
        int t = x.Value.Rows, k = K, e = Experts;
        var y = Backend.Empty(x.Value.DType, t, OutFeatures);   // Y takes X's dtype
        var h = Backend.Empty(t, k);
        var gates = Backend.Empty(t, e);
        var lamEff = Backend.Empty(t, k);
        var z = Backend.Empty(t, k);
        MoSaraOps.Forward(Backend, x.Value, W0, Bias, A, B, Wg.Value, Bg.Value, Lambdas.Value, Options.TopK, Options.Scale,
            y, h, gates, lamEff, z, Options.CheckFinite);
        var output = new Variable(y, true);
        if (Options.CollectRouterStats || Options.BalanceWeight > 0f)
        {
            LastRouterStats = Backend.RouterStatistics(gates);
            LastBalanceLoss = LastRouterStats.BalanceLoss(Options.BalanceWeight);
        }
        tape.Record(() => Backward(tape, output, x, h, gates, lamEff));
        return output;
    }

    private void Backward(Tape tape, Variable output, Variable x, Tensor h, Tensor gates, Tensor lamEff)
    {
        if (!output.HasGrad(tape)) return;
        MoSaraOps.Backward(Backend, output.Grad!, W0, A, B, h, Wg.Value, Lambdas.Value, gates, lamEff, Options.TopK, Options.Scale,
            Options.BalanceWeight, dX: SaraLinear.Target(tape, x), dLambdas: SaraLinear.Target(tape, Lambdas),
            dWg: SaraLinear.Target(tape, Wg), dbg: SaraLinear.Target(tape, Bg), checkFinite: Options.CheckFinite);
    }

    /// <summary>Always refused: Mo-SARA's singular-value scaling depends on the input through the router.</summary>
    public void Merge() => throw new NotSupportedException(
        $"Layer '{Name}': a Mo-SARA layer cannot be merged into W0 — its singular-value scaling depends on each token through the router gates. Use a SARA layer to merge.");

    public void Dispose()
    {
        W0.Dispose();
        Bias?.Dispose();
        A.Dispose();
        B.Dispose();
        Lambdas.Dispose();
        Wg.Dispose();
        Bg.Dispose();
    }
}
