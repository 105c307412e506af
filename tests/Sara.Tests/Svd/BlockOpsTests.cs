using Sara.Native.Backends;
using Sara.Tests.Support;

namespace Sara.Tests.Svd;

/// <summary>The backend ops the block Krylov SVD adds: GEMM and copies on row blocks, and the symmetric eigensolver.</summary>
public class BlockOpsTests
{
    [TestCase("cpu", false, false), TestCase("cpu", true, false), TestCase("cpu", false, true), TestCase("cpu", true, true),
     TestCase("emu", false, false), TestCase("emu", true, true)]
    public void GemmOnRowBlocksMatchesFloat64(string device, bool ta, bool tb)
    {
        using var backend = TestDevices.Create(device);
        var rand = new Rand();
        const int m = 13, n = 9, k = 17;
        // a, b, c are row blocks [3, 3 + rows) of larger tensors; the rows around c must not change.
        var (ar, ac) = ta ? (k, m) : (m, k);
        var (br, bc) = tb ? (n, k) : (k, n);
        var aData = rand.Normal((ar + 7) * ac);
        var bData = rand.Normal((br + 5) * bc);
        var cData = Enumerable.Repeat(float.NaN, (m + 6) * n).ToArray();
        for (var i = 3 * n; i < (3 + m) * n; i++) cData[i] = 0.5f;
        using var a = backend.FromArray(aData, ar + 7, ac);
        using var b = backend.FromArray(bData, br + 5, bc);
        using var c = backend.FromArray(cData, m + 6, n);
        backend.Gemm(new RowBlock(a, 3, ar), ta, new RowBlock(b, 3, br), tb, new RowBlock(c, 3, m), 2f, -1f);
        var want = Oracle.MatMul(Oracle.D(aData[(3 * ac)..((3 + ar) * ac)]), ar, ac, ta, Oracle.D(bData[(3 * bc)..((3 + br) * bc)]), br, bc, tb);
        for (var i = 0; i < want.Length; i++) want[i] = 2 * want[i] - 0.5;
        var got = c.ToArray();
        Assert.That(Oracle.RelErr(got[(3 * n)..((3 + m) * n)], want), Is.Not.NaN.And.LessThan(1e-5));
        Assert.That(got[..(3 * n)].All(float.IsNaN) && got[((3 + m) * n)..].All(float.IsNaN), Is.True, "rows outside the block are untouched");

        using var copy = backend.FromArray(Enumerable.Repeat(float.NaN, 4 * n).ToArray(), 4, n);
        backend.Copy(new RowBlock(c, 5, 2), new RowBlock(copy, 1, 2));
        var copied = copy.ToArray();
        Assert.That(copied[n..(3 * n)], Is.EqualTo(got[(5 * n)..(7 * n)]));
        Assert.That(copied[..n].All(float.IsNaN) && copied[(3 * n)..].All(float.IsNaN), Is.True);
    }

    [TestCase("cpu", false, true), TestCase("cpu", true, false), TestCase("emu", false, true), TestCase("emu", false, false)]
    public void BatchedGemmEqualsOneGemmPerItem(string device, bool ta, bool tb)
    {
        using var backend = TestDevices.Create(device);
        var rand = new Rand();
        const int batch = 3, m = 5, n = 7, k = 11;
        var (ar, ac) = ta ? (k, m) : (m, k);
        var (br, bc) = tb ? (n, k) : (k, n);
        // Items repeat every 2 + rows rows (a gap of two rows between them); c's gap rows must stay NaN.
        using var a = backend.FromArray(rand.Normal(batch * (ar + 2) * ac), batch * (ar + 2), ac);
        using var b = backend.FromArray(rand.Normal(batch * (br + 2) * bc), batch * (br + 2), bc);
        using var c = backend.FromArray(Enumerable.Repeat(float.NaN, batch * (m + 2) * n).ToArray(), batch * (m + 2), n);
        backend.GemmBatched(batch, new RowBlock(a, 1, ar), ar + 2, ta, new RowBlock(b, 2, br), br + 2, tb, new RowBlock(c, 1, m), m + 2);
        var got = c.ToArray();
        for (var i = 0; i < batch; i++)
        {
            using var one = backend.Empty(m, n);
            backend.Gemm(new RowBlock(a, 1 + i * (ar + 2), ar), ta, new RowBlock(b, 2 + i * (br + 2), br), tb, one);
            var start = (1 + i * (m + 2)) * n;
            Assert.That(got[start..(start + m * n)], Is.EqualTo(one.ToArray()), $"item {i}: the bits of a single GEMM");
            Assert.That(float.IsNaN(got[start - 1]) && float.IsNaN(got[start + m * n]), Is.True, "rows between items are untouched");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.GemmBatched(4, new RowBlock(a, 1, ar), ar + 2, ta, new RowBlock(b, 2, br), br + 2, tb,
            new RowBlock(c, 1, m), m + 2), "a fourth item runs past the tensors");

        var rows = rand.Normal(batch * (m + 2) * n);
        using var target = backend.FromArray(Enumerable.Repeat(float.NaN, batch * (m + 2) * n).ToArray(), batch * (m + 2), n);
        backend.Upload(new RowBlock(target, 2, m), rows.AsSpan(0, m * n));
        var norm = backend.SumOfSquares(new RowBlock(target, 2, m));
        Assert.That(norm.NonFinite, Is.Zero);
        Assert.That(norm.SumOfSquares, Is.EqualTo(rows.Take(m * n).Sum(x => (double)x * x)).Within(1e-9).Percent);
        Assert.That(backend.SumOfSquares(new RowBlock(target, 0, 3)).NonFinite, Is.EqualTo(2 * n), "the NaN rows around are counted");
    }

    [Test]
    public void RowBlocksOutsideTheTensorAreRejected()
    {
        using var backend = new CpuBackend();
        using var a = backend.Zeros(4, 3);
        using var c = backend.Zeros(4, 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.Gemm(new RowBlock(a, 2, 3), false, a, true, c));
        Assert.Throws<ArgumentException>(() => backend.Gemm(new RowBlock(a, 0, 3), false, a, true, c));
        Assert.Throws<ArgumentException>(() => backend.Copy(new RowBlock(a, 0, 2), new RowBlock(c, 0, 2)));
    }

    [TestCase("cpu", 1), TestCase("cpu", 37), TestCase("cpu", 160), TestCase("emu", 37)]
    public void SymmetricEigenMatchesFloat64(string device, int n)
    {
        using var backend = TestDevices.Create(device);
        var g = Oracle.D(new Rand().Normal(n * n));
        var sym = Oracle.MatMul(g, n, n, true, g, n, n, false);   // G^T G: symmetric, positive semidefinite
        using var a = backend.FromArray(Array.ConvertAll(sym, x => (float)x), n, n);
        using var values = backend.Empty(n);
        using var vectors = backend.Empty(n, n);
        backend.SymmetricEigen(a, values, vectors);
        var w = values.ToArray();
        var v = Oracle.D(vectors.ToArray());
        Assert.That(w, Is.Ordered.Ascending);
        // A V = V diag(w), relative to ||A||.
        var av = Oracle.MatMul(sym, n, n, false, v, n, n, false);
        var vw = Oracle.ScaleColumns(v, n, n, Oracle.D(w));
        Assert.That(Oracle.RelErr(Array.ConvertAll(vw, x => (float)x), av), Is.Not.NaN.And.LessThan(1e-4));
        var vtv = Oracle.MatMul(v, n, n, true, v, n, n, false);
        for (var i = 0; i < n; i++) Assert.That(vtv[i * n + i], Is.EqualTo(1.0).Within(1e-4));
        Assert.That(a.ToArray(), Is.EqualTo(Array.ConvertAll(sym, x => (float)x)), "a is not modified");
    }
}
