using Sara.Native.Backends;
using Sara.Native.Ops;
using Sara.Native.Tensors;
using Sara.Tests.Layers;
using Sara.Tests.Support;

namespace Sara.Tests.Interop;

/// <summary>
/// The stateless SARA and Mo-SARA ops on external tensors (a trainer's own NaN-poisoned buffers): SARA against the
/// float64 oracle, accumulation (beta 1) and gradients left out; Mo-SARA on external tensors against the same call on
/// pooled tensors, bit for bit (its numerics are checked against the oracle through MoSaraLinear, built on it).
/// </summary>
public class StatelessOpsTests
{
    public static IEnumerable<TestCaseData> Cases() =>
        from d in TestDevices.Emulated
        from s in new[] { (T: 1, N: 9, M: 7, K: 1), (T: 37, N: 33, M: 21, K: 5), (T: 65, N: 70, M: 45, K: 12) }
        select new TestCaseData(d, s.T, s.N, s.M, s.K).SetArgDisplayNames(d, $"T{s.T}", $"n{s.N}", $"m{s.M}", $"k{s.K}");

    [TestCaseSource(nameof(Cases))]
    public void Sara_forward_and_backward_on_callers_buffers_match_the_oracle(string device, int t, int n, int m, int k)
    {
        using var backend = TestDevices.Create(device);
        using var mem = new HostBuffers();
        var r = new Rand();
        float[] xs = r.Normal(t * n), w0 = r.Normal(m * n), bias = r.Normal(m), a = r.Normal(m * k), b = r.Normal(k * n),
            lambda = r.Normal(k), g = r.Normal(t * m);
        const float scale = 0.7f;
        var o = new SaraOracle(t, n, m, k)
        {
            X = Oracle.D(xs), W0 = Oracle.D(w0), Bias = Oracle.D(bias), A = Oracle.D(a), B = Oracle.D(b), Lambda = Oracle.D(lambda), Scale = scale,
        };
        var tx = mem.Tensor(backend, xs, t, n);
        var tw = mem.Tensor(backend, w0, m, n);
        var tbias = mem.Tensor(backend, bias, m);
        var ta = mem.Tensor(backend, a, m, k);
        var tb = mem.Tensor(backend, b, k, n);
        var tl = mem.Tensor(backend, lambda, k);
        var tg = mem.Tensor(backend, g, t, m);
        var y = mem.Tensor(backend, null, t, m);
        var h = mem.Tensor(backend, null, t, k);
        var z = mem.Tensor(backend, null, t, k);
        var dx = mem.Tensor(backend, null, t, n);
        var dl = mem.Tensor(backend, null, k);
        var da = mem.Tensor(backend, null, m, k);
        var db = mem.Tensor(backend, null, k, n);
        var dbias = mem.Tensor(backend, null, m);
        var pool = backend.Memory.BytesInUse;

        SaraOps.Forward(backend, tx, tw, tbias, ta, tb, tl, scale, y, h, z);
        SaraOps.Backward(backend, tg, tx, tw, ta, tb, tl, h, z, scale, dX: dx, dLambda: dl, dA: da, dB: db, dBias: dbias);
        backend.Synchronize();
        Assert.That(backend.Memory.BytesInUse, Is.EqualTo(pool), "scratch goes back to the pool");

        var (wx, wl, wa, wb, wbias) = o.Backward(Oracle.D(g));
        Oracle.AssertClose(HostBuffers.Read(y), o.Forward(), 1e-5, "y");
        Oracle.AssertClose(HostBuffers.Read(dx), wx, 1e-5, "dX");
        Oracle.AssertClose(HostBuffers.Read(dl), wl, 1e-5, "dLambda");
        Oracle.AssertClose(HostBuffers.Read(da), wa, 1e-5, "dA");
        Oracle.AssertClose(HostBuffers.Read(db), wb, 1e-5, "dB");
        Oracle.AssertClose(HostBuffers.Read(dbias), wbias, 1e-5, "dBias");

        // Beta 1 accumulates onto what is there (a parameter used twice): twice the gradient.
        SaraOps.Backward(backend, tg, tx, tw, ta, tb, tl, h, z, scale, dX: new GradOut(dx, 1f), dLambda: new GradOut(dl, 1f),
            dA: new GradOut(da, 1f), dB: new GradOut(db, 1f), dBias: new GradOut(dbias, 1f));
        backend.Synchronize();
        static double[] Twice(double[] v) => Array.ConvertAll(v, e => 2 * e);
        Oracle.AssertClose(HostBuffers.Read(dx), Twice(wx), 1e-5, "dX accumulated");
        Oracle.AssertClose(HostBuffers.Read(dl), Twice(wl), 1e-5, "dLambda accumulated");
        Oracle.AssertClose(HostBuffers.Read(da), Twice(wa), 1e-5, "dA accumulated");
        Oracle.AssertClose(HostBuffers.Read(db), Twice(wb), 1e-5, "dB accumulated");
        Oracle.AssertClose(HostBuffers.Read(dbias), Twice(wbias), 1e-5, "dBias accumulated");
        Assert.That(mem.Frees, Is.Zero);
    }

    [TestCaseSource(typeof(TestDevices), nameof(TestDevices.Emulated))]
    public void Sara_backward_forms_only_the_gradients_asked_for(string device)
    {
        const int t = 6, n = 8, m = 5, k = 3;
        using var backend = TestDevices.Create(device);
        using var mem = new HostBuffers();
        var r = new Rand();
        var (x, w0, a, b, l) = SaraInputs(backend, mem, r, t, n, m, k);
        var g = mem.Tensor(backend, r.Normal(t * m), t, m);
        var (y, h, z) = (mem.Tensor(backend, null, t, m), mem.Tensor(backend, null, t, k), mem.Tensor(backend, null, t, k));
        var (dx, dl) = (mem.Tensor(backend, null, t, n), mem.Tensor(backend, null, k));
        SaraOps.Forward(backend, x, w0, null, a, b, l, 1f, y, h, z);
        SaraOps.Backward(backend, g, x, w0, a, b, l, h, z, 1f, dLambda: dl);
        backend.Synchronize();
        Assert.That(HostBuffers.Read(dl), Has.None.NaN, "dLambda written");
        Assert.That(HostBuffers.Read(dx), Has.All.NaN, "dX not asked for: untouched");
    }

    [TestCaseSource(typeof(TestDevices), nameof(TestDevices.Emulated))]
    public void Outputs_that_share_memory_with_an_input_or_each_other_are_refused_before_anything_is_written(string device)
    {
        const int t = 6, n = 8, m = 5, k = 3;
        using var backend = TestDevices.Create(device);
        using var mem = new HostBuffers();
        var r = new Rand();
        var (x, w0, a, b, l) = SaraInputs(backend, mem, r, t, n, m, k);
        var (h, z) = (mem.Tensor(backend, null, t, k), mem.Tensor(backend, null, t, k));
        var xBits = HostBuffers.Read(x);
        // y as a second view of the tail of x's memory (different Tensor objects, overlapping bytes).
        using var yOverX = backend.FromExternal(x.Ptr + 4 * (t * n - t * m), Sara.Native.Tensors.DType.F32, [t, m]);
        var e = Assert.Throws<ArgumentException>(() => SaraOps.Forward(backend, x, w0, null, a, b, l, 1f, yOverX, h, z));
        Assert.That(e!.Message, Does.Contain("'y' must not also be an input").And.Contain("'x'"));
        using var zOverH = backend.FromExternal(h.Ptr + 4, Sara.Native.Tensors.DType.F32, [t, k - 1]);
        var y = mem.Tensor(backend, null, t, m);
        var e2 = Assert.Throws<ArgumentException>(() => SaraOps.Forward(backend, x, w0, null, a, b, l, 1f, y, h, z: zOverH));
        Assert.That(e2!.Message, Does.Contain("'h' and 'z' must not share memory"));
        var g = mem.Tensor(backend, r.Normal(t * m), t, m);
        using var dBiasOverG = backend.FromExternal(g.Ptr, Sara.Native.Tensors.DType.F32, [m]);
        var e3 = Assert.Throws<ArgumentException>(() => SaraOps.Backward(backend, g, x, w0, a, b, l, h, z, 1f, dBias: new GradOut(dBiasOverG)));
        Assert.That(e3!.Message, Does.Contain("'dBias' must not also be an input").And.Contain("'g'"));
        backend.Synchronize();
        Assert.That(HostBuffers.Read(x), Is.EqualTo(xBits), "x untouched");
        Assert.That(HostBuffers.Read(h).Concat(HostBuffers.Read(y)), Has.All.NaN, "no output written");
    }

    /// <summary>x (T x n), w0 (m x n), a (m x k), b (k x n), lambda (k): random, in the caller's memory.</summary>
    private static (Tensor X, Tensor W0, Tensor A, Tensor B, Tensor Lambda) SaraInputs(Backend backend, HostBuffers mem, Rand r,
        int t, int n, int m, int k) =>
        (mem.Tensor(backend, r.Normal(t * n), t, n), mem.Tensor(backend, r.Normal(m * n), m, n), mem.Tensor(backend, r.Normal(m * k), m, k),
         mem.Tensor(backend, r.Normal(k * n), k, n), mem.Tensor(backend, r.Normal(k), k));

    [TestCaseSource(typeof(TestDevices), nameof(TestDevices.Emulated))]
    public void MoSara_on_callers_buffers_gives_the_bits_of_pooled_tensors(string device)
    {
        const int t = 23, n = 19, m = 11, k = 6, e = 4, topK = 2;
        const float scale = 0.6f, balance = 0.01f;
        using var backend = TestDevices.Create(device);
        using var mem = new HostBuffers();
        var r = new Rand();
        float[] xs = r.Normal(t * n), w0 = r.Normal(m * n), a = r.Normal(m * k), b = r.Normal(k * n, 1 / Math.Sqrt(n)),
            wg = r.Normal(e * k), bg = r.Normal(e), lambdas = r.Normal(e * k), g = r.Normal(t * m);
        int[][] shapes = [[t, m], [t, k], [t, e], [t, k], [t, k], [t, n], [e, k], [e, k], [e]];   // y h gates lamEff z dx dl dwg dbg

        float[][] Run(Func<float[]?, int[], Sara.Native.Tensors.Tensor> make)
        {
            var outs = shapes.Select(s => make(null, s)).ToArray();
            MoSaraOps.Forward(backend, make(xs, [t, n]), make(w0, [m, n]), null, make(a, [m, k]), make(b, [k, n]), make(wg, [e, k]),
                make(bg, [e]), make(lambdas, [e, k]), topK, scale, outs[0], outs[1], outs[2], outs[3], outs[4]);
            MoSaraOps.Backward(backend, make(g, [t, m]), make(w0, [m, n]), make(a, [m, k]), make(b, [k, n]), outs[1], make(wg, [e, k]),
                make(lambdas, [e, k]), outs[2], outs[3], topK, scale, balance, dX: outs[5], dLambdas: outs[6], dWg: outs[7], dbg: outs[8]);
            return outs.Select(o => o.ToArray()).ToArray();
        }

        using var scope = new Sara.Native.Tensors.TensorScope();
        var external = Run((data, shape) => mem.Tensor(backend, data, shape));
        var pooled = Run((data, shape) => data is null ? backend.Empty(shape) : backend.FromArray(data, shape));
        for (var i = 0; i < shapes.Length; i++)
        {
            Assert.That(external[i], Has.None.NaN, $"output {i} written");
            Assert.That(external[i], Is.EqualTo(pooled[i]), $"output {i}: same bits on caller's buffers");
        }
    }
}
