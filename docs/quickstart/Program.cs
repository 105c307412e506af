// Quickstart (README): a SARA adapter on a pretrained layer, one forward, a few AdamW steps, then merge.
// Compiled and run by the package test (tests/Sara.Tests/Package) against the packed Sara.Native NuGet package.
using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Layers;
using Sara.Native.Optim;
using Sara.Native.Tensors;

const int m = 64, n = 128, tokens = 256;   // W0 is m x n (out x in); a batch is tokens x n
var rng = new Random(1);                   // seeded: every run draws the same data
float[] Uniform(int count, float scale) => Enumerable.Range(0, count).Select(_ => scale * (2 * rng.NextSingle() - 1)).ToArray();

var w0 = Uniform(m * n, 0.1f);             // stands in for a pretrained weight
var xs = Uniform(tokens * n, 1f);
// The behaviour to learn: W* = W0 + u v^T (a rank-1 change), seen through its outputs X W*^T.
var (u, v) = (Uniform(m, 0.1f), Uniform(n, 1f));
var wStar = w0.Select((w, i) => w + u[i / n] * v[i % n]).ToArray();

using var backend = Devices.Create();      // the GPU when present, else the CPU; SARA_DEVICE=cpu|emu|cuda overrides
Console.WriteLine($"device: {backend.Description}");

// Rank k from W0's spectrum (default criterion: smallest k whose leading singular values reach tau of their sum).
using var layer = SaraLinear.FromPretrained(backend, "proj", w0, m, n);
var plan = layer.Plan!;
Console.WriteLine($"rank: k = {layer.K} of {Math.Min(m, n)} (reaches {plan.FractionReached:P1} of the spectrum, tau = {plan.Tau:P0}); " +
                  $"{layer.TrainableParameterCount} trainable parameters vs {m * n} dense");

using var x = new Variable(backend.FromArray(xs, tokens, n));
using var wStarTensor = backend.FromArray(wStar, m, n);
using var target = backend.Empty(tokens, m);
backend.Gemm(x.Value, false, wStarTensor, true, target);   // target = X W*^T

// lambda starts at zero, so the adapted layer's first forward is exactly the pretrained layer's.
using (new TensorScope())
{
    using var dense = new Linear(backend, w0, m, n);
    var same = layer.Forward(new Tape(), x).Value.ToArray().SequenceEqual(dense.Forward(new Tape(), x).Value.ToArray());
    Console.WriteLine($"first forward equals the pretrained layer: {same}");
}

using var optimizer = new AdamW(layer.Parameters, new AdamWOptions(LearningRate: 5e-2f));
for (var step = 1; step <= 20; step++)
{
    using var scope = new TensorScope();   // frees this step's activations and gradients
    var tape = new Tape();
    var y = layer.Forward(tape, x);
    var loss = Losses.Mse(tape, y, target);
    tape.Backward();
    optimizer.Step(tape);
    Console.WriteLine($"step {step}: loss {loss:E4}");
}

// Merge folds the adapter into W0 (W0 += s A diag(lambda) B): the same outputs, no adapter cost at inference.
using (new TensorScope())
{
    var adapted = layer.Forward(new Tape(), x).Value.ToArray();
    layer.Merge();
    var merged = layer.Forward(new Tape(), x).Value.ToArray();
    var change = adapted.Zip(merged, (a, b) => Math.Abs(a - b)).Max() / adapted.Max(Math.Abs);
    Console.WriteLine($"merged: max |change| / max |output| = {change:E1}");
}
