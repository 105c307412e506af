// TorchSharp interop (PACKAGE.md, "Linking from a trainer"): a TorchSharp model's activations and parameters, on the
// GPU, go through one SARA layer of this library with no copy. Compiled by the package tests against TorchSharp 0.107
// (TorchSharp's native libtorch needs a newer libstdc++ than Debian 12 has, so the tests do not run it).
//
// The two facts it rests on:
// - pointer: a TorchSharp tensor's first element is storage<T>().data_ptr() (public since 0.107) plus
//   storage_offset() elements; the tensor must be contiguous, and kept alive while the library uses the memory
//   (FromExternal's owner argument does that);
// - stream: TorchSharp has no stream API and libtorch runs its work on the legacy default stream of the device's
//   primary context, so the library's backend goes there too (RuntimeOptions.LegacyStream, primary context): the
//   library's kernels and libtorch's are then ordered without any synchronisation.
using Sara.Native.Backends;
using Sara.Native.Ops;
using Sara.Native.Runtime;
using Sara.Native.Tensors;
using TorchSharp;
using SaraTensor = Sara.Native.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

if (!torch.cuda.is_available())
{
    Console.WriteLine("needs a CUDA device (TorchSharp with libtorch-cuda)");
    return 1;
}

const int tokens = 256, inputs = 512, outputs = 384, rank = 16;
var cuda = torch.CUDA;
using var backend = Devices.Create("cuda", new RuntimeOptions { Stream = RuntimeOptions.LegacyStream });

// TorchSharp owns every buffer; the library sees them through external tensors.
var x = torch.randn(tokens, inputs, device: cuda);
var w0 = torch.randn(outputs, inputs, device: cuda).mul_(0.05);
var (u, _, vh) = torch.linalg.svd(w0, fullMatrices: false);
var a = u.narrow(1, 0, rank).contiguous();          // A = U_k (outputs x rank)
var b = vh.narrow(0, 0, rank).contiguous();         // B = V_k^T (rank x inputs)
var lambda = torch.zeros(rank, device: cuda);
var y = torch.empty(tokens, outputs, device: cuda);
var h = torch.empty(tokens, rank, device: cuda);
var z = torch.empty(tokens, rank, device: cuda);
var target = torch.randn(tokens, outputs, device: cuda);
var dLambda = torch.empty(rank, device: cuda);

using (var sx = Wrap(x)) using (var sw = Wrap(w0)) using (var sa = Wrap(a)) using (var sb = Wrap(b))
using (var sl = Wrap(lambda)) using (var sy = Wrap(y)) using (var sh = Wrap(h)) using (var sz = Wrap(z))
using (var sdl = Wrap(dLambda))
{
    for (var step = 1; step <= 10; step++)
    {
        SaraOps.Forward(backend, sx, sw, null, sa, sb, sl, 1f, sy, sh, sz);   // on the legacy stream, after libtorch's work
        using var g = y.sub(target).mul_(2.0 / y.numel());                    // libtorch: dL/dy of the MSE, same stream
        using var sg = Wrap(g);
        SaraOps.Backward(backend, sg, sx, sw, sa, sb, sl, sh, sz, 1f, dLambda: sdl);
        using (torch.no_grad()) lambda.sub_(dLambda.mul(0.1));              // libtorch reads dLambda: same stream, in order
        Console.WriteLine($"step {step}: loss {y.sub(target).square().mean().item<float>():E4}");
    }
}
return 0;

// A TorchSharp tensor as a library tensor over the same device memory; the TorchSharp tensor is its owner.
SaraTensor Wrap(TorchTensor t)
{
    if (!t.is_contiguous()) throw new ArgumentException("contiguous tensors only (call .contiguous())");
    if (t.device_type != DeviceType.CUDA) throw new ArgumentException($"a CUDA tensor is expected; got {t.device}");
    if (t.dtype != torch.ScalarType.Float32) throw new ArgumentException($"this example wraps float32 tensors; got {t.dtype}");
    var first = (nint)(t.storage<float>().data_ptr() + t.storage_offset() * t.element_size());
    return backend.FromExternal(first, DType.F32, t.shape.Select(d => checked((int)d)).ToArray(), owner: t);
}
