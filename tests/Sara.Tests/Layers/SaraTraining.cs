using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Layers;
using Sara.Native.Optim;
using Sara.Native.Tensors;
using Sara.Tests.Support;

namespace Sara.Tests.Layers;

/// <summary>
/// A synthetic fine-tuning problem: W0 = U diag(s) V^T with a known power-law spectrum, and a target
/// W* = W0 + U_k diag(delta) V_k^T — a change inside W0's top-k singular subspace, which SARA can represent exactly.
/// </summary>
public sealed class SaraTraining
{
    public SaraTraining(int seed, int t = 64, int n = 48, int m = 40, int k = 6)
    {
        (T, N, M, K) = (t, n, m, k);
        var r = new Rand(seed);
        var u = Orthonormal.Columns(r, m, Math.Min(m, n));
        var v = Orthonormal.Columns(r, n, Math.Min(m, n));
        var rank = Math.Min(m, n);
        var s = Enumerable.Range(1, rank).Select(i => 3.0 * Math.Pow(i, -0.7)).ToArray();
        var delta = Enumerable.Range(0, rank).Select(i => i < k ? 0.5 * (1 + r.Gauss() * 0.3) * s[i] : 0).ToArray();
        W0 = new float[m * n];
        var wStar = new double[m * n];
        for (var i = 0; i < m; i++)
            for (var j = 0; j < n; j++)
            {
                double w = 0, d = 0;
                for (var p = 0; p < rank; p++)
                {
                    var uv = u[i * rank + p] * v[j * rank + p];
                    w += s[p] * uv;
                    d += delta[p] * uv;
                }
                W0[i * n + j] = (float)w;
                wStar[i * n + j] = w + d;
            }
        X = r.Normal(t * n);
        var y = Oracle.MatMul(Oracle.D(X), t, n, false, wStar, m, n, true);
        Target = Array.ConvertAll(y, d => (float)d);
    }

    public int T { get; }
    public int N { get; }
    public int M { get; }
    public int K { get; }
    public float[] W0 { get; }
    public float[] X { get; }
    public float[] Target { get; }

    /// <summary>Runs AdamW on a SARA layer and returns the loss per step.</summary>
    public float[] Train(Backend backend, int steps, SaraOptions? options = null, float lr = 0.05f)
    {
        using var layer = SaraLinear.FromPretrained(backend, "layer", W0, M, N, null, options ?? new SaraOptions { FixedRank = K });
        using var opt = new AdamW(layer.Parameters, new AdamWOptions(LearningRate: lr));
        using var x = new Variable(backend.FromArray(X, T, N));
        using var target = backend.FromArray(Target, T, M);
        var losses = new float[steps];
        for (var i = 0; i < steps; i++)
        {
            using var scope = new TensorScope();
            var tape = new Tape();
            var y = layer.Forward(tape, x);
            losses[i] = Losses.Mse(tape, y, target);
            tape.Backward();
            opt.Step(tape);
        }
        return losses;
    }
}
