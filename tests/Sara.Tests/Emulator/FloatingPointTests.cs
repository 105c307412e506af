// Floating point like the GPU: nvcc and NVRTC contract a*b+c into one fma (one rounding); the emulator does the same
// when its build machine has FMA (kernels/emu/CMakeLists.txt), and says so.
using Emu = Sara.Bindings.Emulator;

namespace Sara.Tests.Emulator;

public sealed class FloatingPointTests : EmulatorTestBase
{
    [TestCase(false)]
    [TestCase(true)]
    public void AProductPlusASumRoundsOnceWhenTheLibrarySaysItContracts(bool sanitize)
    {
        // a*b = 1 + 2^-11 + 2^-24 exactly; rounded to float it loses 2^-24 (a tie, to even), so a*b + c is 0 when the
        // product is rounded first and 2^-24 when it is fused.
        var a = 1f + MathF.Pow(2, -12);
        const int n = 40;
        var av = EmuHost.Pinned(n, a);
        var bv = EmuHost.Pinned(n, a);
        var cv = EmuHost.Pinned(n, -(1f + MathF.Pow(2, -11)));
        var outp = EmuHost.Pinned(n, float.NaN);
        var was = Emu.Sanitizing();
        Emu.SetSanitize(sanitize);
        try
        {
            EmuHost.Launch("emu_selftest_fma", 1u, 64u, 0, EmuHost.Ptr(av), EmuHost.Ptr(bv), EmuHost.Ptr(cv), EmuHost.Ptr(outp), n);
        }
        finally
        {
            Emu.SetSanitize(was);
        }
        var contracted = Emu.FmaContraction() == 1;
        TestContext.Out.WriteLine($"{Emu.Version()}: a*b+c = {outp[0]:R}");
        Assert.That(outp, Is.All.EqualTo(contracted ? MathF.Pow(2, -24) : 0f));
        Assert.That(Emu.Version(), Does.Contain(contracted ? "fma contraction" : "no fma contraction"));
    }
}
