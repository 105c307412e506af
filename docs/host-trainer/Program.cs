// Host trainer (PACKAGE.md, "Linking from a trainer"): a trainer that owns its memory, its stream and its autograd,
// and calls the library's stateless SARA ops on its own buffers with no copy. A two-layer model
// y = SARA2(relu(SARA1(x))) learns a low-rank change of its frozen weights with AdamW.
// Compiled and run by the package test (tests/Sara.Tests/Package) against the packed Sara.Native NuGet package, on
// cpu and on the emulator that ships in the package (SARA_DEVICE=cpu|emu).
using System.Runtime.InteropServices;
using Sara.Native.Backends;
using Sara.Native.Ops;
using Sara.Native.Runtime;
using Sara.Native.Svd;
using Sara.Native.Tensors;

const int tokens = 128, inputs = 48, hidden = 32, outputs = 16, rank = 8, steps = 60;
const float scale = 1f;
var device = Environment.GetEnvironmentVariable("SARA_DEVICE") ?? "cpu";

// The trainer's stream. On a GPU this is the CUstream its framework runs on (cuStreamCreate, ILGPU's
// CudaStream.StreamPtr, or RuntimeOptions.LegacyStream for TorchSharp); the emulator runs everything in order on the
// calling thread and only records the handle. The CPU backend has no stream.
const nint trainerStream = 0x7E57;
using var backend = device == "cpu"
    ? Devices.Create("cpu")
    : Devices.Create(device, new RuntimeOptions { Stream = trainerStream });
var runtime = (backend as CudaBackend)?.Runtime;
Console.WriteLine($"device: {backend.Description}");
if (runtime is not null) Console.WriteLine($"stream: library on 0x{runtime.Stream:x}, trainer's 0x{trainerStream:x}");

// Every buffer of the model comes from the trainer's own allocator. On cpu and emu "device" memory is host memory;
// a GPU trainer would allocate with cuMemAlloc or its framework and wrap the device pointers the same way.
var allocator = new CountingAllocator();
var rng = new Random(7);                 // seeded: every run draws the same data
Tensor Buffer(params int[] shape) => backend.FromExternal(allocator.Alloc(shape), DType.F32, shape, owner: allocator);
void Fill(Tensor t, Func<float> value)
{
    var span = allocator.Span(t.Ptr);
    for (var i = 0; i < span.Length; i++) span[i] = value();
}
float Uniform(float s) => s * (2 * rng.NextSingle() - 1);

var x = Buffer(tokens, inputs);
var target = Buffer(tokens, outputs);
Fill(x, () => Uniform(1f));
var layer1 = new Layer(Buffer, inputs, hidden, rank, tokens);
var layer2 = new Layer(Buffer, hidden, outputs, rank, tokens);
Fill(layer1.W0, () => Uniform(0.3f));
Fill(layer2.W0, () => Uniform(0.3f));
layer1.InitFactors(backend);   // A = U_k, B = V_k^T of W0 (the library's truncated SVD), lambda = 0
layer2.InitFactors(backend);

// The behaviour to learn: the same model with rank-1 changes of both frozen weights, seen through its outputs.
var teacher1 = Buffer(hidden, inputs);
var teacher2 = Buffer(outputs, hidden);
Teacher(layer1.W0, teacher1, hidden, inputs);
Teacher(layer2.W0, teacher2, outputs, hidden);
var r1 = Buffer(tokens, hidden);
backend.Gemm(x, false, teacher1, true, r1);
backend.Relu(r1, r1);
backend.Gemm(r1, false, teacher2, true, target);

var g2 = Buffer(tokens, outputs);        // dL/dy2
var dr1 = Buffer(tokens, hidden);        // dL/d relu(y1)
var dy1 = Buffer(tokens, hidden);        // dL/dy1
var adam = new AdamWOptions(LearningRate: 2e-2f);
var parameters = layer1.AdamTensors().Concat(layer2.AdamTensors()).ToArray();

void Step(int step)
{
    SaraOps.Forward(backend, x, layer1.W0, null, layer1.A, layer1.B, layer1.Lambda, scale, layer1.Y, layer1.H, layer1.Z);
    backend.Relu(layer1.Y, r1);
    SaraOps.Forward(backend, r1, layer2.W0, null, layer2.A, layer2.B, layer2.Lambda, scale, layer2.Y, layer2.H, layer2.Z);
    // The trainer's loss: mean squared error, gradient 2 (y - target) / N, formed on the device.
    backend.Copy(layer2.Y, g2);
    backend.Axpby(-2f / g2.Length, target, 2f / g2.Length, g2);
    SaraOps.Backward(backend, g2, r1, layer2.W0, layer2.A, layer2.B, layer2.Lambda, layer2.H, layer2.Z, scale,
        dX: dr1, dLambda: layer2.DLambda, dA: layer2.DA, dB: layer2.DB);
    backend.ReluBackward(dr1, r1, dy1);
    SaraOps.Backward(backend, dy1, x, layer1.W0, layer1.A, layer1.B, layer1.Lambda, layer1.H, layer1.Z, scale,
        dLambda: layer1.DLambda, dA: layer1.DA, dB: layer1.DB);
    backend.AdamW(parameters, adam, step);
}

float Loss()
{
    using var grad = backend.Empty(tokens, outputs);   // library scratch, outside the counted step
    return backend.MseLoss(layer2.Y, target, grad);
}

var poolBefore = backend.Memory.BytesInUse;
for (var step = 1; step <= steps; step++)
{
    var before = runtime?.Counters;
    Step(step);
    if (runtime is not null && step == 1)
    {
        var after = runtime.Counters;
        Console.WriteLine($"one step: {after.CopiesToDevice - before!.Value.CopiesToDevice} copies to device, " +
                          $"{after.CopiesToHost - before.Value.CopiesToHost} copies to host, {after.HostWaits - before.Value.HostWaits} host waits");
    }
    if (step == 1 || step % 10 == 0) Console.WriteLine($"step {step}: loss {Loss():E4}");
}
backend.Synchronize();
Console.WriteLine($"library pool in use after training: {backend.Memory.BytesInUse - poolBefore} bytes");

// The library lets go of the trainer's memory when the tensors are disposed; it never frees it. Snapshot the trained
// lambda, dispose every wrapper and the backend, then read the trainer's own buffer again.
var lambdaPtr = layer2.Lambda.Ptr;
var trained = allocator.Span(lambdaPtr).ToArray();
foreach (var t in new[] { x, target, teacher1, teacher2, r1, g2, dr1, dy1 }) t.Dispose();
layer1.Dispose();
layer2.Dispose();
backend.Dispose();
Console.WriteLine($"allocator: {allocator.Allocations} buffers, {allocator.Frees} freed while the library held them");
Console.WriteLine($"trainer's lambda intact after the library let go: {allocator.Span(lambdaPtr).SequenceEqual(trained)}");
allocator.FreeAll();
Console.WriteLine($"allocator: {allocator.Frees} freed by the trainer, {allocator.LiveBytes} bytes live");

void Teacher(Tensor w0, Tensor w, int m, int n)
{
    var src = allocator.Span(w0.Ptr);
    var dst = allocator.Span(w.Ptr);
    var (u, v) = (Enumerable.Range(0, m).Select(_ => Uniform(0.3f)).ToArray(), Enumerable.Range(0, n).Select(_ => Uniform(1f)).ToArray());
    for (var i = 0; i < m * n; i++) dst[i] = src[i] + u[i / n] * v[i % n];
}

/// <summary>One SARA layer's buffers, all from the trainer's allocator: frozen W0, trained A, B, lambda, their
/// gradients and AdamW moments, and the saved activations of one step.</summary>
sealed class Layer(Func<int[], Tensor> buffer, int n, int m, int k, int tokens) : IDisposable
{
    public Tensor W0 { get; } = buffer([m, n]);
    public Tensor A { get; } = buffer([m, k]);
    public Tensor B { get; } = buffer([k, n]);
    public Tensor Lambda { get; } = buffer([k]);
    public Tensor DA { get; } = buffer([m, k]);
    public Tensor DB { get; } = buffer([k, n]);
    public Tensor DLambda { get; } = buffer([k]);
    public Tensor Y { get; } = buffer([tokens, m]);
    public Tensor H { get; } = buffer([tokens, k]);
    public Tensor Z { get; } = buffer([tokens, k]);
    private readonly Tensor[] _moments = Enumerable.Range(0, 6).Select(i => buffer(i switch { < 2 => [m, k], < 4 => [k, n], _ => [k] })).ToArray();

    public void InitFactors(Backend b)
    {
        using var svd = TruncatedSvd.Compute(b, W0, new SvdOptions(A.Cols, Seed: 1));
        b.Copy(svd.U, A);
        b.Copy(svd.Vt, B);
        b.Fill(Lambda, 0f);
        foreach (var t in _moments) b.Fill(t, 0f);
    }

    public AdamWTensor[] AdamTensors() =>
    [
        new(A, DA, _moments[0], _moments[1]),
        new(B, DB, _moments[2], _moments[3]),
        new(Lambda, DLambda, _moments[4], _moments[5]),
    ];

    public void Dispose()
    {
        foreach (var t in new[] { W0, A, B, Lambda, DA, DB, DLambda, Y, H, Z }.Concat(_moments)) t.Dispose();
    }
}

/// <summary>The trainer's allocator: 64-byte aligned host memory, counted. Only the trainer frees it.</summary>
sealed unsafe class CountingAllocator
{
    private readonly Dictionary<nint, int> _live = new();
    public int Allocations { get; private set; }
    public int Frees { get; private set; }
    public long LiveBytes => _live.Values.Sum(n => 4L * n);

    public nint Alloc(int[] shape)
    {
        var count = shape.Aggregate(1, (a, d) => a * d);
        var p = (nint)NativeMemory.AlignedAlloc((nuint)(4 * count), 64);
        _live.Add(p, count);
        Allocations++;
        return p;
    }

    public Span<float> Span(nint p) => new((void*)p, _live[p]);

    public void FreeAll()
    {
        foreach (var p in _live.Keys) NativeMemory.AlignedFree((void*)p);
        Frees += _live.Count;
        _live.Clear();
    }
}
