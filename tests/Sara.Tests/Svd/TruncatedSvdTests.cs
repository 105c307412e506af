using Sara.Native.Backends;
using Sara.Native.Svd;
using Sara.Tests.Support;

namespace Sara.Tests.Svd;

/// <summary>Exact path, determinism, orientation and argument errors of <see cref="TruncatedSvd"/>.</summary>
public class TruncatedSvdTests
{
    // The oracle is the tests' own float64 Jacobi (SubspaceError.SingularValues), not LAPACK: on cpu and emu the exact path
    // is LAPACK's sgesvd, and judging it by LAPACK's dgesdd through the same bindings would test plumbing only.
    [TestCase("cpu", 300, 200), TestCase("cpu", 150, 400), TestCase("emu", 300, 200), TestCase("emu", 150, 400),
     TestCase("cuda", 300, 200, Category = "gpu")]
    public void ExactPathEqualsFloat64Jacobi(string device, int m, int n)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        var data = r.Normal((long)m * n);
        using var w = backend.FromArray(data, m, n);
        var got = TruncatedSvd.ExactSingularValues(backend, w);
        Assert.That(w.ToArray(), Is.EqualTo(data), "w must not be modified");
        var want = SubspaceError.SingularValues(Oracle.D(data), m, n);
        Assert.That(got, Has.Length.EqualTo(Math.Min(m, n)));
        for (var i = 0; i < want.Length; i++)
            Assert.That(Math.Abs(got[i] - want[i]) / want[i], Is.Not.NaN.And.LessThan(1e-5), $"s[{i}] = {got[i]} vs float64 Jacobi {want[i]}");
    }

    [TestCase("cpu", 180, 120), TestCase("cpu", 90, 250), TestCase("emu", 180, 120), TestCase("emu", 90, 250),
     TestCase("cuda", 180, 120, Category = "gpu")]
    public void ExactPathRecoversAKnownSpectrum(string device, int m, int n)
    {
        // W = U diag(s) V^T from orthonormal factors (Gram–Schmidt; no SVD anywhere), s over two decades with a repeated value.
        using var backend = TestDevices.Create(device);
        var r = Math.Min(m, n);
        var s = Enumerable.Range(0, r).Select(i => i is 3 or 4 ? 0.5 : Math.Pow(10, -2.0 * i / (r - 1))).OrderByDescending(x => x).ToArray();
        var (w, _, _) = SvdTestMatrices.WithSpectrum(m, n, s, new Rand().Int(0, int.MaxValue / 2));
        using var wt = backend.FromArray(w, m, n);
        var got = TruncatedSvd.ExactSingularValues(backend, wt);
        Assert.That(got, Has.Length.EqualTo(r));
        // W is stored in float32: its singular values move by about 1e-7 ||W||_2 = 1e-7 s[0].
        for (var i = 0; i < r; i++)
            Assert.That(Math.Abs(got[i] - s[i]), Is.Not.NaN.And.LessThan(2e-6 * s[0]), $"s[{i}] = {got[i]} vs the spectrum W was built with, {s[i]}");
    }

    [TestCase("cpu"), TestCase("emu")]
    public void SameSeedGivesSameBitsAndTallMatricesWork(string device)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        const int m = 400, n = 120, k = 12;
        var spectrum = SvdTestMatrices.PowerLaw(n, 1.0);
        var data = SvdKernelTests.Random(m, n, spectrum, r);
        using var w = backend.FromArray(data, m, n);
        var options = new SvdOptions(k, Seed: 7);
        using var first = TruncatedSvd.Compute(backend, w, options);
        using var second = TruncatedSvd.Compute(backend, w, options);
        Assert.That(second.S, Is.EqualTo(first.S));
        Assert.That(second.U.ToArray(), Is.EqualTo(first.U.ToArray()));
        Assert.That(second.Vt.ToArray(), Is.EqualTo(first.Vt.ToArray()));
        Assert.That(w.ToArray(), Is.EqualTo(data), "w must not be modified");
        using var other = TruncatedSvd.Compute(backend, w, options with { Seed = 8 });
        Assert.That(other.U.ToArray(), Is.Not.EqualTo(first.U.ToArray()), "another seed draws another sketch");

        // U S Vt is close to the best rank-k approximation: ||W - U S Vt||_F within 1% of the optimal tail.
        Assert.That(first.U.Shape, Is.EqualTo(new[] { m, k }));
        Assert.That(first.Vt.Shape, Is.EqualTo(new[] { k, n }));
        var us = Oracle.ScaleColumns(Oracle.D(first.U.ToArray()), m, k, Oracle.D(first.S));
        var recon = Oracle.MatMul(us, m, k, false, Oracle.D(first.Vt.ToArray()), k, n, false);
        var err = Math.Sqrt(recon.Zip(data, (a, b) => (a - b) * (a - b)).Sum());
        var optimal = Math.Sqrt(spectrum.Skip(k).Sum(s => s * s));
        TestContext.Out.WriteLine($"{device}: ||W - U S Vt||_F = {err:E4}, optimal {optimal:E4}");
        Assert.That(err, Is.Not.NaN.And.LessThan(1.01 * optimal));
    }

    [TestCase("cpu"), TestCase("emu")]
    public void BadArgumentsAreNamed(string device)
    {
        using var backend = TestDevices.Create(device);
        using var w = backend.Zeros(10, 6);
        using var v = backend.Zeros(6);
        using var cpu = new CpuBackend();
        using var foreign = cpu.Zeros(10, 6);
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => TruncatedSvd.Compute(backend, w, new SvdOptions(7)))!.Message,
            Does.Contain("min(m, n) = 6"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => TruncatedSvd.Compute(backend, w, new SvdOptions(0)))!.ParamName,
            Is.EqualTo("Rank"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => TruncatedSvd.Compute(backend, w, new SvdOptions(2, -1)))!.ParamName,
            Is.EqualTo("Oversampling"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => TruncatedSvd.Compute(backend, w, new SvdOptions(2, 1, -1)))!.ParamName,
            Is.EqualTo("PowerIterations"));
        Assert.That(Assert.Throws<ArgumentException>(() => TruncatedSvd.Compute(backend, v, new SvdOptions(1)))!.ParamName, Is.EqualTo("w"));
        if (device != "cpu")
            Assert.That(Assert.Throws<ArgumentException>(() => TruncatedSvd.ExactSingularValues(backend, foreign))!.ParamName, Is.EqualTo("w"));
    }
}
