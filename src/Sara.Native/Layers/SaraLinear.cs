using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Ops;
using Sara.Native.Svd;
using Sara.Native.Tensors;

namespace Sara.Native.Layers;

/// <summary>
/// A frozen dense layer plus SARA's adapter (DESIGN 1.2): Y = X W0^T + b + s * ((X B^T) (.) lambda) A^T,
/// with A = U_k, B = V_k^T from W0's truncated SVD and lambda = 0 at start, so the layer starts equal to W0's.
/// W0 never receives a gradient and is never copied per step. Merge folds the adapter into W0 (no inference overhead).
/// </summary>
public sealed class SaraLinear : IDisposable
{
    private Tensor? _identity;

    private SaraLinear(Backend backend, string name, Tensor w0, Tensor? bias, Tensor a, Tensor b, Tensor lambda,
        SaraOptions options, LayerRank? plan)
    {
        Backend = backend;
        Name = name;
        Options = options;
        Plan = plan;
        W0 = w0;
        Bias = bias is null ? null : options.TrainBias ? Variable.Parameter(bias, $"{name}.bias") : new Variable(bias, false, $"{name}.bias");
        A = options.TrainFactors ? Variable.Parameter(a, $"{name}.A") : new Variable(a, false, $"{name}.A");
        B = options.TrainFactors ? Variable.Parameter(b, $"{name}.B") : new Variable(b, false, $"{name}.B");
        Lambda = Variable.Parameter(lambda, $"{name}.lambda");
    }

    /// <summary>
    /// Builds the adapter from W0 (m x n, row-major, stored as <see cref="SaraOptions.W0DType"/>): rank from the plan
    /// (or FixedRank), factors from the truncated SVD.
    /// </summary>
    public static SaraLinear FromPretrained(Backend backend, string name, float[] w0, int m, int n, float[]? bias = null,
        SaraOptions? options = null)
    {
        options ??= new SaraOptions();
        options.Validate();
        var (w, b) = PretrainedFactors.Upload(backend, name, w0, m, n, bias, options.W0DType);
        return FromPretrained(backend, name, w, b, options);
    }

    /// <summary>
    /// Builds the adapter over a W0 already on the backend (m x n, any dtype: a bf16 / f16 W0 stays 16-bit, e.g. loaded
    /// by <see cref="IO.SafetensorsTensors.Load"/> without a float32 copy) and an optional f32 bias [m]. The layer owns both
    /// from here on (they are disposed with it, or at once if this throws); make them outside any <see cref="TensorScope"/>.
    /// </summary>
    public static SaraLinear FromPretrained(Backend backend, string name, Tensor w0, Tensor? bias = null, SaraOptions? options = null)
    {
        options ??= new SaraOptions();
        PretrainedFactors.OrDispose(options.Validate, w0, bias);
        var f = PretrainedFactors.Compute(backend, name, w0, bias, options.Rank, options.FixedRank, options.Svd, DType.F32);
        using var _ = TensorScope.Suspend();
        return new SaraLinear(backend, name, f.W0, f.Bias, f.A, f.B, backend.Zeros(f.K), options, f.Plan);
    }

    /// <summary>Builds the layer from given factors (a: m x k, b: k x n, lambda: k or null for zeros) — e.g. a loaded adapter.</summary>
    public static SaraLinear FromFactors(Backend backend, string name, float[] w0, int m, int n, float[]? bias,
        float[] a, float[] b, int k, float[]? lambda = null, SaraOptions? options = null)
    {
        options ??= new SaraOptions();
        options.Validate();
        CheckLambda(name, lambda, k);
        var (w, bt) = PretrainedFactors.Upload(backend, name, w0, m, n, bias, options.W0DType);
        return FromFactors(backend, name, w, bt, a, b, k, lambda, options);
    }

    /// <summary>
    /// Builds the layer from given factors over a W0 already on the backend (any dtype; owned by the layer from here on,
    /// as in <see cref="FromPretrained(Backend, string, Tensor, Tensor?, SaraOptions?)"/>).
    /// </summary>
    public static SaraLinear FromFactors(Backend backend, string name, Tensor w0, Tensor? bias,
        float[] a, float[] b, int k, float[]? lambda = null, SaraOptions? options = null)
    {
        options ??= new SaraOptions();
        PretrainedFactors.OrDispose(() =>
        {
            options.Validate();
            CheckLambda(name, lambda, k);
        }, w0, bias);
        var f = PretrainedFactors.FromGiven(backend, name, w0, bias, a, b, k, DType.F32);
        using var _ = TensorScope.Suspend();
        var lam = lambda is null ? backend.Zeros(k) : backend.FromArray(lambda, k);
        return new SaraLinear(backend, name, f.W0, f.Bias, f.A, f.B, lam, options, null);
    }

    private static void CheckLambda(string name, float[]? lambda, int k)
    {
        if (lambda is not null && lambda.Length != k) throw new ArgumentException($"Layer '{name}': lambda must have {k} values; got {lambda.Length}.", nameof(lambda));
    }

    public Backend Backend { get; }
    public string Name { get; }
    public SaraOptions Options { get; }
    /// <summary>How the rank was chosen (null when the layer was built from given factors or with a fixed rank).</summary>
    public LayerRank? Plan { get; }
    public Tensor W0 { get; }
    public Variable? Bias { get; }
    public Variable A { get; }
    public Variable B { get; }
    public Variable Lambda { get; }
    public int K => Lambda.Value.Rows;
    public int OutFeatures => W0.Rows;
    public int InFeatures => W0.Cols;
    public bool IsMerged { get; private set; }

    public IEnumerable<Variable> Parameters =>
        new[] { Lambda, A, B, Bias }.Where(v => v is { RequiresGrad: true })!;

    public long TrainableParameterCount => Parameters.Sum(p => p.Value.Length);

    public Variable Forward(Tape tape, Variable x)
    {
        if (IsMerged)
        {
            var merged = new Variable(Linear.DenseForward(Backend, x.Value, W0, Bias?.Value), true);
            tape.Record(() => DenseInputGrad(tape, merged, x));
            return merged;
        }
        Linear.CheckInput(x.Value, W0);
        // Y takes X's dtype (bf16 activations in, bf16 out); H and Z stay float32.
        var y = Backend.Empty(x.Value.DType, x.Value.Rows, OutFeatures);
        var h = Backend.Empty(x.Value.Rows, K);
        var z = Backend.Empty(x.Value.Rows, K);
        SaraOps.Forward(Backend, x.Value, W0, Bias?.Value, A.Value, B.Value, Lambda.Value, Options.Scale, y, h, z);
        var output = new Variable(y, true);
        tape.Record(() => AdapterBackward(tape, output, x, h, z));
        return output;
    }

    private void AdapterBackward(Tape tape, Variable output, Variable x, Tensor h, Tensor z)
    {
        if (!output.HasGrad(tape)) return;
        SaraOps.Backward(Backend, output.Grad!, x.Value, W0, A.Value, B.Value, Lambda.Value, h, z, Options.Scale,
            dX: Target(tape, x), dLambda: Target(tape, Lambda), dA: Target(tape, A), dB: Target(tape, B), dBias: Target(tape, Bias));
    }

    /// <summary>The gradient buffer and beta of a variable that needs one in this pass; null otherwise.</summary>
    internal static GradOut? Target(Tape tape, Variable? v)
    {
        if (v is not { RequiresGrad: true }) return null;
        var (grad, beta) = v.GradTarget(tape);
        return new GradOut(grad, beta);
    }

    private void DenseInputGrad(Tape tape, Variable output, Variable x)
    {
        if (!output.HasGrad(tape) || !x.RequiresGrad) return;
        var (dx, bx) = x.GradTarget(tape);
        Backend.Gemm(output.Grad!, false, W0, false, dx, 1f, bx);
    }

    /// <summary>
    /// R = gamma (||A^T A - I||_F^2 + ||B B^T - I||_F^2); adds dR/dA = 4 gamma A (A^T A - I) and dR/dB = 4 gamma (B B^T - I) B
    /// to the gradients of this tape's pass. Returns R (0 when gamma is 0 or the factors are frozen).
    /// </summary>
    public float OrthogonalityPenalty(Tape tape)
    {
        var gamma = Options.OrthogonalityWeight;
        if (gamma == 0f || !A.RequiresGrad) return 0f;
        if (_identity is null)
        {
            var eye = new float[K * K];
            for (var i = 0; i < K; i++) eye[i * K + i] = 1f;
            using (TensorScope.Suspend()) _identity = Backend.FromArray(eye, K, K);
        }
        using var ma = Backend.Empty(K, K);
        using var mb = Backend.Empty(K, K);
        Backend.Gemm(A.Value, true, A.Value, false, ma);
        Backend.Axpby(-1f, _identity, 1f, ma);
        Backend.Gemm(B.Value, false, B.Value, true, mb);
        Backend.Axpby(-1f, _identity, 1f, mb);
        var value = gamma * (SquaredNorm(ma) + SquaredNorm(mb));
        var (da, ba) = A.GradTarget(tape);
        Backend.Gemm(A.Value, false, ma, false, da, 4f * gamma, ba);
        var (db, bb) = B.GradTarget(tape);
        Backend.Gemm(mb, false, B.Value, false, db, 4f * gamma, bb);
        return value;
    }

    private float SquaredNorm(Tensor m) => (float)Backend.SumOfSquares(m).SumOfSquares;

    /// <summary>
    /// W0 += s A diag(lambda) B; afterwards Forward runs the dense path only. A 16-bit W0 keeps its dtype: each element is
    /// W0 + s A diag(lambda) B summed in float64 and rounded once to nearest even (<see cref="LowRankMerge"/>).
    /// </summary>
    public void Merge()
    {
        if (IsMerged) throw new InvalidOperationException($"Layer '{Name}' is already merged.");
        ApplyDelta(+1f);
        IsMerged = true;
    }

    /// <summary>W0 -= s A diag(lambda) B: restores W0 to within float32 rounding (a 16-bit W0: within one ulp of its dtype).</summary>
    public void Unmerge()
    {
        if (!IsMerged) throw new InvalidOperationException($"Layer '{Name}' is not merged.");
        ApplyDelta(-1f);
        IsMerged = false;
    }

    private void ApplyDelta(float sign)
    {
        if (W0.DType != DType.F32)
        {
            LowRankMerge.Apply(Backend, W0, A.Value, Lambda.Value, B.Value, sign * (double)Options.Scale);
            return;
        }
        using var _ = TensorScope.Suspend();
        using var al = Backend.Empty(OutFeatures, K);
        Backend.ScaleColumns(A.Value, Lambda.Value, al);
        Backend.Gemm(al, false, B.Value, false, W0, sign * Options.Scale, 1f);
    }

    public void Dispose()
    {
        W0.Dispose();
        Bias?.Dispose();
        A.Dispose();
        B.Dispose();
        Lambda.Dispose();
        _identity?.Dispose();
    }
}
