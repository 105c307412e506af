// Memory acceptance of a 16-bit W0 (issue 13): a SARA layer over a 4096 x 4096 bf16 W0 holds 32 MiB for W0 on every
// backend, and no float32 copy of W0 (64 MiB) exists at any time: not while loading it from safetensors (no managed copy
// either), not while building the layer, in a training step, or in the merge (pool statistics bound every moment).
using System.Runtime.InteropServices;
using Sara.Native.Autograd;
using Sara.Native.IO;
using Sara.Native.Layers;
using Sara.Native.Tensors;
using Sara.Tests.IO;
using Sara.Tests.Support;

namespace Sara.Tests.MixedPrecision;

public class FrozenWeightMemoryTests : IoTestBase
{
    private const int N = 4096, M = 4096, K = 16, T = 8;
    private const long MiB = 1 << 20, W0Bytes = 32 * MiB, Float32CopyBytes = 64 * MiB;

    /// <summary>Working memory a step may add beyond its activations: one 4 MiB MixedGemm panel, with room to spare.</summary>
    private const long StepBound = 16 * MiB;

    /// <summary>A bf16 safetensors file with a finite random M x N weight (magnitudes 2^-8 .. 1); returns its bits.</summary>
    private ushort[] WriteBf16Weight(string path, int seed)
    {
        var raw = new byte[2L * M * N];
        new Random(seed).NextBytes(raw);
        var bits = MemoryMarshal.Cast<byte, ushort>(raw.AsSpan());
        for (var i = 0; i < bits.Length; i++) bits[i] = (ushort)((bits[i] & 0x807F) | ((0x77 + bits[i] % 8) << 7));
        new SafetensorsWriter().AddRaw("w", SafetensorsDType.BF16, [M, N], raw).Save(path);
        return bits.ToArray();
    }

    [TestCase("cpu"), TestCase("emu")]
    public void ABf16W0Holds32MiBAndNeverAFloat32Copy(string device)
    {
        var path = FilePath("w0.safetensors");
        var bits = WriteBf16Weight(path, seed: new Rand().Int(0, int.MaxValue));
        using var backend = TestDevices.Create(device);
        using var file = SafetensorsFile.Open(path);

        var managed = GC.GetAllocatedBytesForCurrentThread();
        var w0 = SafetensorsTensors.Load(backend, file, "w");
        managed = GC.GetAllocatedBytesForCurrentThread() - managed;
        Assert.That(managed, Is.AtMost(2 * MiB), "the loader holds one 1 MiB read buffer, no tensor-sized copy (a float32 copy is 64 MiB)");
        Assert.That((w0.DType, w0.Bytes, backend.Memory.BytesInUse, backend.Memory.PeakInUse), Is.EqualTo((DType.BF16, W0Bytes, W0Bytes, W0Bytes)),
            "the pool holds exactly the 32 MiB of bf16 W0");
        Assert.That(w0.ToBits().AsSpan().SequenceEqual(bits), Is.True, "the file's bits, unchanged");

        var r = new Rand();
        using var layer = SaraLinear.FromFactors(backend, "big", w0, null, r.Normal((long)M * K, 0.02), r.Normal((long)K * N, 0.02), K,
            r.Normal(K, 0.5));
        Assert.That(layer.W0.DType, Is.EqualTo(DType.BF16));
        var held = backend.Memory.BytesInUse;
        Assert.That(held - W0Bytes, Is.AtMost(2 * MiB), "besides W0 the layer holds only A, B, lambda and their gradients (1 MiB)");

        using (var scope = new TensorScope())
        {
            var tape = new Tape();
            using var x = new Variable(backend.FromArray(r.Normal((long)T * N), T, N), requiresGrad: true);
            var y = layer.Forward(tape, x);
            tape.Seed(y, backend.FromArray(r.Normal((long)T * M), T, M));
            tape.Backward();
            Assert.That(x.Grad!.ToArray(), Has.None.NaN);
        }
        layer.Merge();
        Assert.That(layer.W0.DType, Is.EqualTo(DType.BF16), "the merge keeps W0's dtype");
        Assert.That(backend.Memory.BytesInUse, Is.EqualTo(held), "the step and the merge returned what they took");

        var peak = backend.Memory.PeakInUse;
        TestContext.Out.WriteLine($"{device}: W0 {W0Bytes / MiB} MiB, layer holds {held / (double)MiB:F2} MiB, peak over the whole test {peak / (double)MiB:F2} MiB");
        Assert.That(peak, Is.AtMost(held + StepBound), "no moment held more than the layer plus one step's panels");
        Assert.That(peak, Is.AtMost(W0Bytes + Float32CopyBytes - 1), "so a float32 copy of W0 never existed beside it");
    }
}
