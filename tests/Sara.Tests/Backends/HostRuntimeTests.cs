using System.Runtime.InteropServices;
using Sara.Bindings;
using Sara.Native.Runtime;

namespace Sara.Tests.Backends;

/// <summary>The host runtime's settings that only show in speed: they are checked directly here.</summary>
public class HostRuntimeTests
{
    [Test]
    public void OpenBlasWorkersAreToldToStopSpinningSoon()
    {
        var userValue = Environment.GetEnvironmentVariable("OPENBLAS_THREAD_TIMEOUT");
        NativeLibraries.Load(Lib.OpenBlas);
        var native = Marshal.PtrToStringUTF8(Libc.GetEnv("OPENBLAS_THREAD_TIMEOUT"));
        // A value the user set wins; otherwise the resolver sets 16 (2^16 cycles) before OpenBLAS reads its environment.
        Assert.That(native, Is.EqualTo(userValue ?? "16"));
    }

    [TestCase(3L << 20, 2L << 20, TestName = "A 3 MiB buffer starts on a 2 MiB boundary (huge-page backed)")]
    [TestCase(1000L, 64L, TestName = "A small buffer is 64-byte aligned")]
    public void AllocationsAreAligned(long bytes, long alignment)
    {
        var p = HostMemory.Alloc(bytes);
        try
        {
            Assert.That(p % alignment, Is.Zero);
            HostMemory.Fill32(p, 0x3f800000u, bytes / 4); // the whole range is writable
        }
        finally { HostMemory.Free(p); }
    }
}
