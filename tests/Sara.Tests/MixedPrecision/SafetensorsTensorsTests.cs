// SafetensorsTensors.Load: a checkpoint tensor onto a backend in its stored dtype, bit for bit, in any shape the layers take.
using System.Runtime.InteropServices;
using Sara.Native.IO;
using Sara.Native.Tensors;
using Sara.Tests.IO;
using Sara.Tests.Support;

namespace Sara.Tests.MixedPrecision;

public class SafetensorsTensorsTests : IoTestBase
{
    [TestCase("cpu"), TestCase("emu")]
    public void TensorsArriveInTheirStoredDTypeBitForBit(string device)
    {
        var r = new Rand();
        var conv = r.Normal(6 * 3 * 2 * 2);
        var vector = r.Normal(5);
        // Over one 1 MiB read: 700 x 1000 bf16 values.
        var big = new byte[2 * 700 * 1000];
        new Random(r.Int(0, int.MaxValue)).NextBytes(big);
        var bigBits = MemoryMarshal.Cast<byte, ushort>(big.AsSpan());
        for (var i = 0; i < bigBits.Length; i++) bigBits[i] &= 0xBFFF;   // finite: exponent below 0x80
        var path = FilePath("mixed.safetensors");
        new SafetensorsWriter()
            .Add("conv", SafetensorsDType.F16, [6, 3, 2, 2], conv)
            .Add("vector", SafetensorsDType.F32, [5], vector)
            .AddRaw("big", SafetensorsDType.BF16, [700, 1000], big)
            .Add("double", SafetensorsDType.F64, [2], new float[] { 1, 2 })
            .Save(path);
        using var backend = TestDevices.Create(device);
        using var file = SafetensorsFile.Open(path);

        using var c = SafetensorsTensors.Load(backend, file, "conv");
        Assert.That((c.DType, c.ShapeText), Is.EqualTo((DType.F16, "[6, 12]")), "a conv weight as out x (in kh kw)");
        Assert.That(c.ToBits(), Is.EqualTo(MemoryMarshal.Cast<byte, ushort>(file.GetBytes("conv")).ToArray()));
        using var v = SafetensorsTensors.Load(backend, file, "vector");
        Assert.That((v.DType, v.ShapeText, v.ToArray()), Is.EqualTo((DType.F32, "[5]", vector)));
        using var b = SafetensorsTensors.Load(backend, file, "big");
        Assert.That((b.DType, b.ShapeText), Is.EqualTo((DType.BF16, "[700, 1000]")));
        Assert.That(b.ToBits().AsSpan().SequenceEqual(bigBits), Is.True, "every chunk lands at its offset");

        var e = Assert.Throws<NotSupportedException>(() => SafetensorsTensors.Load(backend, file, "double"));
        Assert.That(e!.Message, Does.Contain("'double' is F64"));
    }
}
