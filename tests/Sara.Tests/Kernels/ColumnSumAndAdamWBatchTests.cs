using Sara.Native.Backends;
using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.Support;

namespace Sara.Tests.Kernels;

/// <summary>
/// Column sums (kernels/reduce.cu) on the shapes that take each path (narrow, wide with 128-bit or scalar loads, one
/// slice or several with the finish launch), and the batched AdamW (kernels/adamw.cu) over many ragged tensors in more
/// than one launch, against float64 oracles; both bitwise equal run after run.
/// </summary>
public class ColumnSumAndAdamWBatchTests
{
    // Over 256 KB: several row slices and the finish; under: one launch. cols < 32: the narrow path; cols % 4 == 0: float4.
    private static readonly (int Rows, int Cols)[] Shapes =
        [(20000, 5), (3000, 31), (1500, 96), (700, 131), (4097, 1), (9, 4100), (300, 64), (2, 3), (0, 7)];

    public static IEnumerable<TestCaseData> Cases() =>
        Shapes.Select(s => new TestCaseData(s.Rows, s.Cols).SetArgDisplayNames($"{s.Rows}x{s.Cols}"));

    [TestCaseSource(nameof(Cases))]
    public void Column_sums_match_float64_with_and_without_beta_and_repeat_bitwise(int rows, int cols)
    {
        using var backend = TestDevices.Create("emu");
        var r = new Rand();
        float[] xs = r.Normal((long)rows * cols), s0 = r.Normal(cols);
        using var x = backend.FromArray(xs, rows, cols);
        var want = Oracle.ColumnSum(Oracle.D(xs), rows, cols);
        var abs = Oracle.ColumnSum(Oracle.Abs(xs), rows, cols);

        using var sum = Poison.Tensor(backend, cols);
        backend.ColumnSum(x, sum);
        var first = sum.ToArray();
        if (rows > 0) Oracle.AssertClose(first, want, abs, 1e-5, "column sum");
        else Assert.That(first, Is.All.EqualTo(0f), "no rows: zeros");
        backend.Fill(sum, float.NaN);
        backend.ColumnSum(x, sum);
        Assert.That(RankProductTests.Bits(sum.ToArray()), Is.EqualTo(RankProductTests.Bits(first)), "bitwise run to run");

        using var withBeta = backend.FromArray(s0, cols);
        backend.ColumnSum(x, withBeta, -0.5f);
        Oracle.AssertClose(withBeta.ToArray(), Oracle.Add(want, Oracle.D(s0), -0.5), Oracle.Add(abs, Oracle.Abs(s0), 0.5), 1e-5, "beta -0.5");
    }

    [TestCase("cpu"), TestCase("emu")]
    public void Batched_adamw_matches_float64_over_many_ragged_tensors(string device)
    {
        using var backend = TestDevices.Create(device);
        var r = new Rand();
        // 53 tensors (51 non-empty): seven launches (6 x 8 + 3) on the GPU path; sizes across block edges, with empty ones and a large one
        // (the total is over 264 x 128, so blocks take more than 128 elements each).
        var sizes = Enumerable.Range(0, 53).Select(i => i switch { 0 => 0, 1 => 1, 2 => 127, 3 => 129, 4 => 40_000, 17 => 0, _ => r.Int(1, 3000) }).ToArray();
        var o = new AdamWOptions(LearningRate: 0.01f, WeightDecay: 0.1f);
        var p = sizes.Select(n => Oracle.D(r.Normal(n))).ToArray();
        var m = sizes.Select(n => new double[n]).ToArray();
        var v = sizes.Select(n => new double[n]).ToArray();
        var pt = p.Select((x, i) => backend.FromArray(Array.ConvertAll(x, d => (float)d), sizes[i])).ToArray();
        var mt = sizes.Select(n => backend.Zeros(n)).ToArray();
        var vt = sizes.Select(n => backend.Zeros(n)).ToArray();
        try
        {
            for (var step = 1; step <= 3; step++)
            {
                var g = sizes.Select(n => r.Normal(n)).ToArray();
                var gt = g.Select((x, i) => backend.FromArray(x, sizes[i])).ToArray();
                backend.AdamW(pt.Select((_, i) => new AdamWTensor(pt[i], gt[i], mt[i], vt[i])).ToArray(), o, step);
                foreach (var t in gt) t.Dispose();
                double bc1 = 1 - Math.Pow(o.Beta1, step), bc2 = 1 - Math.Pow(o.Beta2, step);
                for (var i = 0; i < sizes.Length; i++)
                    for (var e = 0; e < sizes[i]; e++)
                    {
                        m[i][e] = o.Beta1 * m[i][e] + (1 - o.Beta1) * g[i][e];
                        v[i][e] = o.Beta2 * v[i][e] + (1 - o.Beta2) * g[i][e] * g[i][e];
                        p[i][e] = p[i][e] * (1 - o.LearningRate * o.WeightDecay) - o.LearningRate * (m[i][e] / bc1) / (Math.Sqrt(v[i][e] / bc2) + o.Epsilon);
                    }
            }
            for (var i = 0; i < sizes.Length; i++)
            {
                if (sizes[i] == 0) continue;
                Oracle.AssertClose(pt[i].ToArray(), p[i], 1e-5, $"tensor {i} ({sizes[i]} elements): parameters");
                Oracle.AssertClose(mt[i].ToArray(), m[i], 1e-5, $"tensor {i}: first moment");
                Oracle.AssertClose(vt[i].ToArray(), v[i], 1e-5, $"tensor {i}: second moment");
            }
        }
        finally
        {
            foreach (var t in pt.Concat(mt).Concat(vt)) t.Dispose();
        }
    }

    [Test]
    public void Batched_adamw_equals_one_tensor_at_a_time_bitwise()
    {
        using var backend = TestDevices.Create("emu");
        var r = new Rand();
        var sizes = new[] { 5000, 1, 300, 70_000 };
        var o = new AdamWOptions(LearningRate: 0.003f, WeightDecay: 0.01f);
        var init = sizes.Select(n => r.Normal(n)).ToArray();
        var grads = sizes.Select(n => r.Normal(n)).ToArray();
        float[][] Run(bool batched)
        {
            var ts = sizes.Select((n, i) => (P: backend.FromArray(init[i], n), G: backend.FromArray(grads[i], n), M: backend.Zeros(n), V: backend.Zeros(n))).ToArray();
            if (batched) backend.AdamW(ts.Select(t => new AdamWTensor(t.P, t.G, t.M, t.V)).ToArray(), o, 4);
            else foreach (var t in ts) backend.AdamW(t.P, t.G, t.M, t.V, o, 4);
            var result = ts.Select(t => t.P.ToArray()).ToArray();
            foreach (var t in ts) { t.P.Dispose(); t.G.Dispose(); t.M.Dispose(); t.V.Dispose(); }
            return result;
        }
        var one = Run(false);
        var all = Run(true);
        for (var i = 0; i < sizes.Length; i++)
            Assert.That(RankProductTests.Bits(all[i]), Is.EqualTo(RankProductTests.Bits(one[i])), $"tensor {i}");
    }

    [Test]
    public void Launch_plans_give_264_blocks_to_inputs_over_1_MB()
    {
        var p = CudaBackend.PlanColumnSum(4096, 4096, vec4: true);
        Assert.That((long)p.ColumnTiles * p.Slices, Is.GreaterThanOrEqualTo(CudaBackend.TargetBlocks), "bias gradient T = m = 4096");
        var r = new Rand();
        for (var i = 0; i < 2000; i++)
        {
            int rows = r.Int(0, 100_000), cols = r.Int(1, 5000);
            var q = CudaBackend.PlanColumnSum(rows, cols, vec4: cols % 4 == 0);
            Assert.That((long)q.Slice * q.Slices, Is.GreaterThanOrEqualTo(rows), $"{rows} x {cols}: all rows summed");
            Assert.That((long)(q.Slices - 1) * q.Slice, Is.Not.NaN.And.LessThan(Math.Max(rows, 1)), $"{rows} x {cols}: no empty slice");
            if (4.0 * rows * cols > 1e6 && rows >= CudaBackend.TargetBlocks)
                Assert.That((long)q.ColumnTiles * q.Slices, Is.GreaterThanOrEqualTo(CudaBackend.TargetBlocks), $"{rows} x {cols}");
            var total = (long)rows * cols;
            var chunk = CudaBackend.AdamWChunk(total);
            Assert.That(chunk % 128, Is.Zero);
            if (total >= 264L * 128) Assert.That((total + chunk - 1) / chunk, Is.GreaterThanOrEqualTo(CudaBackend.TargetBlocks), $"AdamW over {total}");
        }
        foreach (var k in new[] { 16, 32, 64 })
        {
            var chunk = CudaBackend.RoutingParamChunk(4096, k);
            Assert.That((long)((4096 + chunk - 1) / chunk) * ((k + 31) / 32), Is.GreaterThanOrEqualTo(CudaBackend.TargetBlocks), $"routing k={k}");
        }
    }
}
