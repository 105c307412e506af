// CensusSteps.cs — one training step of a SARA or Mo-SARA layer (forward, backward from an output gradient, AdamW) on a
// CudaBackend whose runtime is a CensusRuntime, recorded phase by phase. Used by Census/LaunchCensusTests (dry runs on
// the emulated runtime), bench/Sara.Bench (--census: the table in bench/README.md) and bench/Sara.DeviceCheck (the same
// steps timed launch by launch on a GPU).
using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Layers;
using Sara.Native.Optim;
using Sara.Native.Runtime;
using Sara.Native.Tensors;
using Sara.Native.Svd;

namespace Sara.Tests.Census;

/// <summary>A layer shape: T tokens, n inputs, m outputs, rank k, E experts (Mo-SARA).</summary>
public sealed record CensusShape(int T, int N, int M, int K, int Experts = 4)
{
    public override string ToString() => $"T{T} n{N} m{M} k{K}";
}

/// <summary>What is censused: the layer kind and its options.</summary>
public enum CensusLayer
{
    /// <summary>SaraLinear, lambda, A and B trainable, no bias (an LLM projection).</summary>
    Sara,
    /// <summary>SaraLinear with a trainable bias (adds the bias gradient's column sum over T x m).</summary>
    SaraWithBias,
    /// <summary>MoSaraLinear, E experts, dense softmax, no router statistics (no host copy in the step).</summary>
    MoSara,
    /// <summary>MoSaraLinear with the library's defaults: router statistics after each forward (a host copy).</summary>
    MoSaraWithStats,
    /// <summary>SaraLinear with a trainable bias over a bf16 W0, with bf16 activations (X, Y, dY, dX): the mixed-precision step.</summary>
    SaraBf16,
}

public static class CensusSteps
{
    /// <summary>The LLM shapes: T = 4096 tokens, n = m = 4096, k = 16, 32, 64, E = 4.</summary>
    public static readonly CensusShape[] Reference = [new(4096, 4096, 4096, 16), new(4096, 4096, 4096, 32), new(4096, 4096, 4096, 64)];

    /// <summary>Phases of a step, in order: the seed is the output gradient a loss or the next layer would write.</summary>
    public static readonly string[] Phases = ["forward", "seed", "backward", "adamw"];

    /// <summary>
    /// Builds the layer (weights are zeros: a dry run reads nothing), runs one step and returns the step's entries.
    /// <paramref name="census"/> belongs to the backend's CensusRuntime.
    /// </summary>
    public static IReadOnlyList<CensusEntry> Step(CudaBackend backend, LaunchCensus census, CensusLayer kind, CensusShape s)
    {
        var (t, n, m, k) = (s.T, s.N, s.M, s.K);
        var w0 = new float[(long)m * n];
        float[] a = new float[(long)m * k], b = new float[(long)k * n];
        var bias = kind is CensusLayer.SaraWithBias or CensusLayer.SaraBf16 ? new float[m] : null;
        var bf16 = kind == CensusLayer.SaraBf16;
        var activations = bf16 ? DType.BF16 : DType.F32;
        IDisposable layer;
        Func<Tape, Variable, Variable> forward;
        IEnumerable<Variable> parameters;
        if (kind is CensusLayer.Sara or CensusLayer.SaraWithBias or CensusLayer.SaraBf16)
        {
            var sara = SaraLinear.FromFactors(backend, "sara", w0, m, n, bias, a, b, k,
                options: new SaraOptions { TrainBias = bias is not null, W0DType = bf16 ? DType.BF16 : DType.F32 });
            (layer, forward, parameters) = (sara, sara.Forward, sara.Parameters);
        }
        else
        {
            var mo = MoSaraLinear.FromFactors(backend, "mosara", w0, m, n, null, a, b, k,
                new MoSaraOptions { Experts = s.Experts, CollectRouterStats = kind == CensusLayer.MoSaraWithStats });
            (layer, forward, parameters) = (mo, mo.Forward, mo.Parameters);
        }
        using (layer)
        {
            using var x = new Variable(backend.Empty(activations, t, n), requiresGrad: true, "x");   // inside a network: dX is formed
            using var g = backend.Empty(activations, t, m);
            using var optimizer = new AdamW(parameters, new AdamWOptions(1e-4f, WeightDecay: 0.01f));
            census.Clear();
            using var scope = new TensorScope();
            var tape = new Tape();
            census.Phase = "forward";
            var y = forward(tape, x);
            census.Phase = "seed";
            tape.Seed(y, g);
            census.Phase = "backward";
            tape.Backward();
            census.Phase = "adamw";
            optimizer.Step(tape);
            census.Phase = "";
            return census.Entries;
        }
    }

    /// <summary>The truncated SVD that initialises a layer (n x n weight, rank k, oversampling k, q power iterations).</summary>
    public static IReadOnlyList<CensusEntry> SvdInit(CudaBackend backend, LaunchCensus census, int n, int k, int q)
    {
        using var w = backend.Empty(n, n);
        census.Clear();
        census.Phase = "svd";
        TruncatedSvd.Compute(backend, w, new SvdOptions(k, Oversampling: k, PowerIterations: q)).Dispose();
        census.Phase = "";
        return census.Entries;
    }
}
