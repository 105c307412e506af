using Sara.Native.Backends;
using Sara.Native.Tensors;
using Sara.Tests.Support;

namespace Sara.Tests.Backends;

/// <summary>
/// Bad arguments to the basic ops (GEMM, reductions, elementwise, losses, AdamW, copies) fail on every backend with an
/// ArgumentException-family error that names the argument, before anything is written: outputs keep their poison.
/// </summary>
public class OpBadInputTests
{
    private static T Throws<T>(TestDelegate op, string param) where T : ArgumentException
    {
        var e = Assert.Throws<T>(op)!;
        Assert.That(e.ParamName, Is.EqualTo(param), e.Message);
        return e;
    }

    private static Tensor Poisoned(Backend b, params int[] shape) => Poison(b, b.Empty(shape));

    private static Tensor Poison(Backend b, Tensor t)
    {
        b.Fill(t, float.NaN);
        return t;
    }

    private static void AssertUntouched(Tensor t) => Assert.That(t.ToArray(), Is.All.NaN, "a rejected call must not write its output");

    [TestCase("cpu"), TestCase("emu"), TestCase("cuda", Category = "gpu")]
    public void Gemm(string device)
    {
        using var b = TestDevices.Create(device);
        using var scope = new TensorScope();
        var a = b.Zeros(4, 5);
        var x = b.Zeros(5, 3);
        var c = Poisoned(b, 4, 3);
        Assert.That(Throws<ArgumentException>(() => b.Gemm(a, false, b.Zeros(6, 3), false, c), "b").Message, Does.Contain("Inner dimensions"));
        Assert.That(Throws<ArgumentException>(() => b.Gemm(a, false, x, false, Poisoned(b, 3, 4)), "c").Message, Does.Contain("[4, 3]"));
        Throws<ArgumentException>(() => b.Gemm(b.Zeros(20), false, x, false, c), "a");
        Throws<ArgumentNullException>(() => b.Gemm(a, false, null!, false, c), "b");
        using var other = new CpuBackend();
        using var foreign = other.Zeros(5, 3);
        if (device != "cpu") Assert.That(Throws<ArgumentException>(() => b.Gemm(a, false, foreign, false, c), "b").Message, Does.Contain("backend"));
        var gone = b.Zeros(4, 5);
        gone.Dispose();
        Assert.That(Throws<ArgumentException>(() => b.Gemm(gone, false, x, false, c), "a").Message, Does.Contain("disposed"));
        // The output may not be an input: c = a b written into a or b would read what it has overwritten.
        var square = b.Zeros(4, 4);
        Assert.That(Throws<ArgumentException>(() => b.Gemm(square, false, b.Zeros(4, 4), false, square), "c").Message, Does.Contain("input"));
        Throws<ArgumentException>(() => b.Gemm(b.Zeros(4, 4), false, square, true, square), "c");
        AssertUntouched(c);
    }

    [TestCase("cpu"), TestCase("emu"), TestCase("cuda", Category = "gpu")]
    public void GemmWithAnEmptyInnerDimensionScalesC(string device)
    {
        // (m x 0)(0 x n) is a zero matrix: c = beta c (BLAS would reject lda = 0 and leave c alone).
        using var b = TestDevices.Create(device);
        using var scope = new TensorScope();
        var c = b.FromArray([1, 2, 3, 4, 5, 6], 2, 3);
        b.Gemm(b.Zeros(2, 0), false, b.Zeros(0, 3), false, c, 1f, 0.5f);
        Assert.That(c.ToArray(), Is.EqualTo(new[] { 0.5f, 1, 1.5f, 2, 2.5f, 3 }));
        b.Gemm(b.Zeros(0, 2), true, b.Zeros(3, 0), true, c);
        Assert.That(c.ToArray(), Is.All.Zero, "beta 0: a zero result");
    }

    [TestCase("cpu"), TestCase("emu"), TestCase("cuda", Category = "gpu")]
    public void ReductionsAndElementwise(string device)
    {
        using var b = TestDevices.Create(device);
        using var scope = new TensorScope();
        var x = b.Zeros(4, 5);
        var sum = Poisoned(b, 4);
        Assert.That(Throws<ArgumentException>(() => b.ColumnSum(x, sum), "sum").Message, Does.Contain("[5]"));
        Throws<ArgumentException>(() => b.ColumnSum(b.Zeros(5), Poisoned(b, 1)), "x");
        var y = Poisoned(b, 4, 5);
        Throws<ArgumentException>(() => b.AddRowVector(y, b.Zeros(4)), "bias");
        Throws<ArgumentException>(() => b.ScaleColumns(x, b.Zeros(4), y), "v");
        Throws<ArgumentException>(() => b.ScaleColumns(x, b.Zeros(5), Poisoned(b, 5, 4)), "y");
        Throws<ArgumentException>(() => b.Axpby(1f, x, 1f, Poisoned(b, 20)), "y");
        Throws<ArgumentException>(() => b.Relu(x, Poisoned(b, 5, 4)), "y");
        Throws<ArgumentException>(() => b.ReluBackward(b.Zeros(4, 4), x, y), "dy");
        Throws<ArgumentException>(() => b.ReluBackward(b.Zeros(4, 5), x, Poisoned(b, 4, 4)), "dx");
        AssertUntouched(sum);
        AssertUntouched(y);
    }

    [TestCase("cpu"), TestCase("emu"), TestCase("cuda", Category = "gpu")]
    public void Losses(string device)
    {
        using var b = TestDevices.Create(device);
        using var scope = new TensorScope();
        var p = b.Zeros(3, 4);
        var g = Poisoned(b, 3, 4);
        Throws<ArgumentException>(() => b.MseLoss(p, b.Zeros(4, 3), g), "target");
        Throws<ArgumentException>(() => b.MseLoss(p, b.Zeros(3, 4), Poisoned(b, 12)), "grad");
        Throws<ArgumentException>(() => b.MseLoss(b.Zeros(0, 4), b.Zeros(0, 4), b.Zeros(0, 4)), "pred");

        Assert.That(Throws<ArgumentOutOfRangeException>(() => b.SoftmaxCrossEntropy(p, [0, 4, 1], g), "labels").Message, Does.Contain("4"));
        Throws<ArgumentOutOfRangeException>(() => b.SoftmaxCrossEntropy(p, [0, -1, 1], g), "labels");
        Assert.That(Throws<ArgumentException>(() => b.SoftmaxCrossEntropy(p, [0, 1], g), "labels").Message, Does.Contain("3"));
        Throws<ArgumentException>(() => b.SoftmaxCrossEntropy(p, [0, 1, 2, 3], g), "labels");
        Throws<ArgumentException>(() => b.SoftmaxCrossEntropy(p, [0, 1, 2], Poisoned(b, 4, 3)), "grad");
        Throws<ArgumentException>(() => b.SoftmaxCrossEntropy(b.Zeros(12), [0], Poisoned(b, 12)), "logits");
        // No rows: a mean over nothing is not a loss (the CPU used to return 0 here).
        Throws<ArgumentException>(() => b.SoftmaxCrossEntropy(b.Zeros(0, 4), [], b.Zeros(0, 4)), "logits");
        AssertUntouched(g);
    }

    [TestCase("cpu"), TestCase("emu"), TestCase("cuda", Category = "gpu")]
    public void AdamW(string device)
    {
        using var b = TestDevices.Create(device);
        using var scope = new TensorScope();
        var p = Poisoned(b, 6);
        var o = new AdamWOptions();
        Throws<ArgumentException>(() => b.AdamW(p, b.Zeros(5), b.Zeros(6), b.Zeros(6), o, 1), "grad");
        Throws<ArgumentException>(() => b.AdamW(p, b.Zeros(6), b.Zeros(2, 3), b.Zeros(6), o, 1), "m");
        Throws<ArgumentException>(() => b.AdamW(p, b.Zeros(6), b.Zeros(6), b.Zeros(7), o, 1), "v");
        Throws<ArgumentOutOfRangeException>(() => b.AdamW(p, b.Zeros(6), b.Zeros(6), b.Zeros(6), o, 0), "step");
        Throws<ArgumentNullException>(() => b.AdamW(p, b.Zeros(6), b.Zeros(6), b.Zeros(6), null!, 1), "options");
        foreach (var (bad, name) in new[]
                 {
                     (o with { LearningRate = float.NaN }, "LearningRate"), (o with { LearningRate = -1e-3f }, "LearningRate"),
                     (o with { Beta1 = 1f }, "Beta1"), (o with { Beta1 = -0.1f }, "Beta1"), (o with { Beta2 = 1f }, "Beta2"),
                     (o with { Epsilon = 0f }, "Epsilon"), (o with { WeightDecay = float.PositiveInfinity }, "WeightDecay"),
                 })
            Assert.That(Throws<ArgumentOutOfRangeException>(() => b.AdamW(p, b.Zeros(6), b.Zeros(6), b.Zeros(6), bad, 1), name).Message,
                Does.Contain(name), bad.ToString());
        AssertUntouched(p);
    }

    [TestCase("cpu"), TestCase("emu"), TestCase("cuda", Category = "gpu")]
    public void CopiesAndTransfers(string device)
    {
        using var b = TestDevices.Create(device);
        using var scope = new TensorScope();
        var src = b.Zeros(3, 4);
        var dst = Poisoned(b, 4, 3);
        Assert.That(Throws<ArgumentException>(() => b.Copy(src, dst), "dst").Message, Does.Contain("[3, 4]"));
        Assert.That(Throws<ArgumentException>(() => b.Upload(dst, new float[11]), "src").Message, Does.Contain("12"));
        Throws<ArgumentException>(() => b.Upload(dst, new float[13]), "src");
        Throws<ArgumentException>(() => b.Download(src, new float[11]), "dst");
        Throws<ArgumentException>(() => b.Download(src, new float[13]), "dst");
        AssertUntouched(dst);

        // A FromArray of the wrong length releases the tensor it made.
        var live = b.Memory.BytesInUse;
        Throws<ArgumentException>(() => b.FromArray(new float[5], 2, 3), "data");
        Assert.That(b.Memory.BytesInUse, Is.EqualTo(live), "no tensor left behind");
        Throws<ArgumentOutOfRangeException>(() => b.Empty(2, -1), "shape");
        Throws<ArgumentException>(() => b.Empty(2, 3, 4), "shape");
    }
}
