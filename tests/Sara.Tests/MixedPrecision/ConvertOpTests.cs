// Backend.Convert / Upload / Download / Fill / Copy of 16-bit tensors on cpu (C#) and emu (kernels/convert.cu, i.e. the
// bit-level helpers of kernels/common.cuh), bit for bit against Precision over millions of patterns.
using Sara.Native.Backends;
using Sara.Native.Tensors;
using Sara.Tests.Support;
using P = Sara.Native.Tensors.Precision;

namespace Sara.Tests.MixedPrecision;

public class ConvertOpTests
{
    private static readonly float[] Sweep = BitPatterns.AsFloats(BitPatterns.Float32Sweep());

    [Test]
    public void NarrowingGivesPrecisionsBitsOnEveryBoundary(
        [Values("cpu", "emu")] string device, [Values(DType.BF16, DType.F16)] DType dtype)
    {
        using var backend = TestDevices.Create(device);
        using var src = backend.FromArray(Sweep, Sweep.Length);
        using var dst = backend.Zeros(dtype, Sweep.Length);
        backend.Convert(src, dst);
        var want = new ushort[Sweep.Length];
        P.Narrow(dtype, Sweep, want);
        AssertSameBits(dst.ToBits(), want, i => $"{BitConverter.SingleToUInt32Bits(Sweep[i]):X8}");
    }

    [Test]
    public void WideningAndCrossConversionGivePrecisionsBitsForEveryPattern(
        [Values("cpu", "emu")] string device, [Values(DType.BF16, DType.F16)] DType from)
    {
        using var backend = TestDevices.Create(device);
        var all = BitPatterns.All16();
        // 2-D, so the kernels' row / column indexing is exercised too.
        using var src = backend.FromBits(all, from, 256, 256);
        using var wide = backend.Empty(256, 256);
        backend.Convert(src, wide);
        var got = wide.ToArray();
        for (var i = 0; i < all.Length; i++)
            Assert.That(BitConverter.SingleToUInt32Bits(got[i]), Is.EqualTo(BitConverter.SingleToUInt32Bits(P.From16(from, all[i]))), $"{from} {all[i]:X4}");

        var to = from == DType.BF16 ? DType.F16 : DType.BF16;
        using var other = backend.Empty(to, 256, 256);
        backend.Convert(src, other);
        AssertSameBits(other.ToBits(), all.Select(h => P.To16(to, P.From16(from, h))).ToArray(), i => $"{from} {all[i]:X4} -> {to}");
    }

    [Test]
    public void UploadDownloadFillAndCopyKeepTheDtype([Values("cpu", "emu")] string device)
    {
        using var backend = TestDevices.Create(device);
        var values = new Rand().Normal(10_001);   // more than one conversion chunk, and an odd count
        using var t = backend.FromArray(values, DType.BF16, values.Length);
        var bits = new ushort[values.Length];
        P.Narrow(DType.BF16, values, bits);
        Assert.That(t.ToBits(), Is.EqualTo(bits));
        Assert.That(t.ToArray(), Is.EqualTo(bits.Select(P.FromBFloat16).ToArray()), "Download widens exactly");
        Assert.That(t.Bytes, Is.EqualTo(2L * values.Length));

        using var copy = backend.Empty(DType.BF16, values.Length);
        backend.Copy(t, copy);
        Assert.That(copy.ToBits(), Is.EqualTo(bits));
        backend.Fill(copy, 0.1f);
        Assert.That(copy.ToBits(), Is.All.EqualTo(P.ToBFloat16(0.1f)));
        using var half = backend.Zeros(DType.F16, 3);
        Assert.That(half.ToBits(), Is.All.EqualTo((ushort)0));
        backend.Fill(half, float.NaN);
        Assert.That(half.ToBits(), Is.All.EqualTo(P.ToHalf(float.NaN)), "the canonical NaN, with float.NaN's sign");

        using var f32 = backend.Empty(values.Length);
        var e = Assert.Throws<ArgumentException>(() => backend.Copy(t, f32));
        Assert.That(e!.Message, Does.Contain("Convert"));
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.UploadBytes(t, new byte[3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.UploadBytes(t, new byte[2], byteOffset: 1));
        Assert.Throws<ArgumentException>(() => backend.DownloadBits(f32, new ushort[values.Length]));
        Assert.Throws<ArgumentException>(() => backend.FromBits(new ushort[2], DType.F32, 2));
    }

    private static void AssertSameBits(ushort[] got, ushort[] want, Func<int, string> what)
    {
        Assert.That(got, Has.Length.EqualTo(want.Length));
        for (var i = 0; i < got.Length; i++)
            if (got[i] != want[i]) Assert.Fail($"{what(i)}: got {got[i]:X4}, want {want[i]:X4}");
    }
}
