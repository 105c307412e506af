using Sara.Native.Backends;
using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.Support;

namespace Sara.Tests.Svd;

/// <summary>
/// The kernel runtime's small SVD forms the Gram matrix B B^T, which squares the condition number; it is formed and
/// factored in float64 so the small singular values keep their accuracy. Measured here against the tests' own float64
/// Jacobi SVD (Support/JacobiSvd) of the same float32 B: every singular value, down to sigma_1 / sigma_l = 10^4 and for
/// l up to 272 (k = 256 plus the default oversampling), within 1e-6 relative (one-sided Jacobi in float32 reached 2e-6
/// to 1e-5 on 10^3).
/// </summary>
public class SmallSvdAccuracyTests
{
    public static IEnumerable<TestCaseData> Cases() =>
        from s in new[] { (64, 300, 3.0), (128, 1024, 4.0), (272, 600, 4.0), (200, 200, 2.0) }
        select new TestCaseData(s.Item1, s.Item2, s.Item3).SetArgDisplayNames($"l{s.Item1}", $"n{s.Item2}", $"decades{s.Item3}");

    [TestCaseSource(nameof(Cases))]
    public void Every_singular_value_is_accurate_relative_to_itself(int l, int n, double decades)
    {
        using var backend = TestDevices.Create("emu");
        var r = new Rand();
        var spectrum = Enumerable.Range(0, l).Select(i => Math.Pow(10, -decades * i / (l - 1))).ToArray();
        var data = SvdKernelTests.Random(l, n, spectrum, r);
        using var b = backend.FromArray(data, l, n);
        using var s = Poison.Tensor(backend, l);
        using var u = Poison.Tensor(backend, l, 8);
        using var vt = Poison.Tensor(backend, 8, n);
        backend.SmallSvd(b, s, u, vt);
        var want = SubspaceError.SingularValues(Oracle.D(data), l, n);
        var got = s.ToArray();
        var worst = Enumerable.Range(0, l).Max(i => Math.Abs(got[i] - want[i]) / want[i]);
        var smallest = Math.Abs(got[l - 1] - want[l - 1]) / want[l - 1];
        TestContext.Out.WriteLine($"l={l} n={n} sigma_1/sigma_l = 1e{decades}: worst relative error {worst:E2}, of the smallest {smallest:E2}");
        Assert.That(worst, Is.Not.NaN.And.LessThan(1e-6));

        var (u1, vt1) = (u.ToArray(), vt.ToArray());
        foreach (var t in new[] { s, u, vt }) backend.Fill(t, float.NaN);
        backend.SmallSvd(b, s, u, vt);
        Assert.That(Sara.Tests.Kernels.RankProductTests.Bits(s.ToArray()), Is.EqualTo(Sara.Tests.Kernels.RankProductTests.Bits(got)), "s bitwise run to run");
        Assert.That(Sara.Tests.Kernels.RankProductTests.Bits(u.ToArray()), Is.EqualTo(Sara.Tests.Kernels.RankProductTests.Bits(u1)), "U bitwise");
        Assert.That(Sara.Tests.Kernels.RankProductTests.Bits(vt.ToArray()), Is.EqualTo(Sara.Tests.Kernels.RankProductTests.Bits(vt1)), "Vt bitwise");
    }

    [Test]
    public void A_rank_deficient_sketch_gives_finite_unit_or_zero_vectors()
    {
        using var backend = TestDevices.Create("emu");
        var r = new Rand();
        const int l = 40, n = 90, c = 40;
        var spectrum = Enumerable.Range(0, l).Select(i => i < 10 ? 1.0 + i : 0.0).ToArray();   // rank 10
        var data = SvdKernelTests.Random(l, n, spectrum, r);
        using var b = backend.FromArray(data, l, n);
        using var s = Poison.Tensor(backend, l);
        using var u = Poison.Tensor(backend, l, c);
        using var vt = Poison.Tensor(backend, c, n);
        backend.SmallSvd(b, s, u, vt);
        Assert.That(s.ToArray().Concat(u.ToArray()).Concat(vt.ToArray()), Is.All.Matches<float>(float.IsFinite));
        var v = vt.ToArray();
        for (var i = 0; i < c; i++)
        {
            var norm = Math.Sqrt(Enumerable.Range(0, n).Sum(j => (double)v[i * n + j] * v[i * n + j]));
            Assert.That(norm < 1e-6 || Math.Abs(norm - 1) < 1e-5, Is.True, $"row {i} of vt has norm {norm}");
        }
        Assert.That(s.ToArray()[10..], Is.All.LessThan(1e-5f), "the zero singular values");
    }
}
