using Sara.Native.Backends;
using Sara.Native.Interop;
using Sara.Native.Tensors;
using Sara.Tests.Support;
using Spec = Sara.Tests.Interop.FakeDLPackProducer.Spec;

namespace Sara.Tests.Interop;

/// <summary>
/// DLPack import and export, versioned and legacy, with a fake producer whose deleter counts its calls: exactly one per
/// tensor whether the tensor is used and disposed, disposed twice, released by a scope, or refused at import; and an
/// export's memory stays valid until the consumer's deleter even after the tensor is disposed.
/// </summary>
public unsafe class DLPackTests
{
    private static (nint Managed, nint Id, nint Data) Make(bool versioned, Spec spec) =>
        versioned ? FakeDLPackProducer.Versioned(spec) : FakeDLPackProducer.Legacy(spec);

    private static Tensor Import(Backend backend, bool versioned, nint managed) =>
        versioned ? DLPack.FromDLPackVersioned(backend, managed) : DLPack.FromDLPack(backend, managed);

    public static IEnumerable<TestCaseData> Cases() =>
        from d in TestDevices.Emulated from v in new[] { true, false }
        select new TestCaseData(d, v).SetArgDisplayNames(d, v ? "versioned" : "legacy");

    [TestCaseSource(nameof(Cases))]
    public void An_imported_tensor_is_the_producers_memory_and_its_deleter_runs_once(string device, bool versioned)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        float[] a = r.Normal(3 * 4), b = r.Normal(4 * 5);
        var pa = Make(versioned, new Spec([3, 4]) { Values = a, ByteOffset = 16 });
        var pb = Make(versioned, new Spec([4, 5]) { Values = b, Strides = [5, 1] });
        var pc = Make(versioned, new Spec([3, 5]));
        var pool = backend.Memory;
        var ta = Import(backend, versioned, pa.Managed);
        var tb = Import(backend, versioned, pb.Managed);
        var tc = Import(backend, versioned, pc.Managed);
        Assert.That(backend.Memory, Is.EqualTo(pool), "no copy: nothing rented");
        Assert.That(ta.Ptr, Is.EqualTo(pa.Data + 16), "data + byte_offset");
        Assert.That(tc.Ptr, Is.EqualTo(pc.Data));

        backend.Gemm(ta, false, tb, false, tc);
        backend.Synchronize();
        Oracle.AssertClose(HostBuffers.Read(pc.Data, 15), Oracle.MatMul(Oracle.D(a), 3, 4, false, Oracle.D(b), 4, 5, false), 1e-5,
            "GEMM into the producer's memory");
        Assert.That(FakeDLPackProducer.DeleterCalls(pa.Id) + FakeDLPackProducer.DeleterCalls(pc.Id), Is.Zero, "not before Dispose");

        ta.Dispose();
        ta.Dispose();
        tb.Dispose();
        using (new TensorScope()) Import(backend, versioned, Make(versioned, new Spec([2])).Managed);
        tc.Dispose();
        foreach (var p in new[] { pa, pb, pc }) Assert.That(FakeDLPackProducer.DeleterCalls(p.Id), Is.EqualTo(1));
    }

    public static IEnumerable<TestCaseData> Refusals()
    {
        var cuda = new DLDevice { DeviceType = DLDeviceType.Cuda };
        var int32 = new DLDataType { Code = DLDataTypeCode.Int, Bits = 32, Lanes = 1 };
        var lanes = new DLDataType { Code = DLDataTypeCode.Float, Bits = 32, Lanes = 4 };
        var cases = new (string Name, Spec Spec, string Message, bool VersionedOnly)[]
        {
            ("cuda memory on cpu", new Spec([4]) { Device = cuda }, "cannot be used by backend", false),
            ("int32", new Spec([4]) { DType = int32 }, "dtype code 0, 32 bits", false),
            ("vector lanes", new Spec([4]) { DType = lanes }, "4 lanes", false),
            ("3-D", new Spec([2, 2, 2]), "3-D tensor", false),
            ("0-D", new Spec([]), "0-D tensor", false),
            ("padded rows", new Spec([3, 4]) { Strides = [6, 1] }, "only dense rows", false),
            ("column-major", new Spec([3, 4]) { Strides = [1, 3] }, "element stride 3", false),
            ("ABI 2", new Spec([4]) { Major = 2 }, "ABI version 2.0", true),
            ("read-only", new Spec([4]) { Flags = DLManagedTensorVersioned.FlagReadOnly }, "read-only", true),
        };
        foreach (var c in cases)
            foreach (var v in c.VersionedOnly ? new[] { true } : new[] { true, false })
                yield return new TestCaseData(v, c.Spec, c.Message).SetArgDisplayNames(c.Name, v ? "versioned" : "legacy");
    }

    [TestCaseSource(nameof(Refusals))]
    public void A_refused_import_says_why_and_still_calls_the_deleter_once(bool versioned, Spec spec, string message)
    {
        using var backend = TestDevices.Create("cpu");
        var p = Make(versioned, spec);
        var e = Assert.Catch<Exception>(() => Import(backend, versioned, p.Managed));
        Assert.That(e, Is.InstanceOf<ArgumentException>().Or.InstanceOf<NotSupportedException>());
        Assert.That(e!.Message, Does.Contain(message));
        Assert.That(e.Message.Split('\n'), Has.Length.EqualTo(1), "one line");
        Assert.That(FakeDLPackProducer.DeleterCalls(p.Id), Is.EqualTo(1));
    }

    [TestCaseSource(nameof(Cases))]
    public void Export_then_import_is_the_same_memory_and_outlives_the_tensor_until_the_deleter(string device, bool versioned)
    {
        using var backend = TestDevices.Create(device);
        var values = new Rand().Normal(6 * 7);
        var baseline = backend.Memory.BytesInUse;
        var t = backend.FromArray(values, 6, 7);
        var managed = versioned ? DLPack.ToDLPackVersioned(t) : DLPack.ToDLPack(t);
        var dl = versioned ? &((DLManagedTensorVersioned*)managed)->DLTensor : &((DLManagedTensor*)managed)->DLTensor;
        Assert.That(dl->Data, Is.EqualTo(t.Ptr), "zero copy");
        Assert.That(dl->Device.DeviceType, Is.EqualTo(DLDeviceType.Cpu), "cpu and emu memory is host memory");
        Assert.That((dl->NDim, dl->Shape[0], dl->Shape[1], dl->Strides[0], dl->Strides[1]), Is.EqualTo((2, 6L, 7L, 7L, 1L)));
        Assert.That((dl->DType.Code, dl->DType.Bits, dl->DType.Lanes), Is.EqualTo((DLDataTypeCode.Float, (byte)32, (ushort)1)));
        if (versioned) Assert.That(((DLManagedTensorVersioned*)managed)->Version.Major, Is.EqualTo(1u));

        t.Dispose();   // the export still holds the block
        Assert.That(backend.Memory.BytesInUse, Is.GreaterThan(baseline), "the block stays rented until the deleter");
        var back = Import(backend, versioned, managed);   // a consumer: this library itself
        Assert.That(back.ToArray(), Is.EqualTo(values), "the memory is still valid after the tensor's Dispose");
        back.Dispose();   // runs the export's deleter
        back.Dispose();
        Assert.That(backend.Memory.BytesInUse, Is.EqualTo(baseline), "the deleter gave the block back to the pool, once");
    }

    [Test]
    public void A_16_bit_tensor_exports_and_imports_with_its_dtype()
    {
        using var backend = TestDevices.Create("cpu");
        foreach (var dtype in new[] { DType.BF16, DType.F16 })
        {
            using var t = backend.FromArray([1f, -2f, 0.5f, 3f], dtype, 4);
            var back = DLPack.FromDLPackVersioned(backend, DLPack.ToDLPackVersioned(t));
            Assert.That(back.DType, Is.EqualTo(dtype));
            Assert.That(back.ToBits(), Is.EqualTo(t.ToBits()));
            back.Dispose();
        }
        var bf = Make(true, new Spec([2]) { DType = new DLDataType { Code = DLDataTypeCode.Bfloat, Bits = 16, Lanes = 1 } });
        using (var t = DLPack.FromDLPackVersioned(backend, bf.Managed)) Assert.That(t.DType, Is.EqualTo(DType.BF16));
        Assert.That(FakeDLPackProducer.DeleterCalls(bf.Id), Is.EqualTo(1));
    }

    [Test]
    public void Exporting_a_disposed_tensor_is_refused()
    {
        using var backend = TestDevices.Create("cpu");
        var t = backend.Zeros(3);
        t.Dispose();
        Assert.Throws<ObjectDisposedException>(() => DLPack.ToDLPackVersioned(t));
    }
}
