using System.CommandLine;
using System.Diagnostics;
using Sara.Native.Backends;
using Sara.Native.Ops;

namespace Sara.Cli.Commands;

/// <summary>
/// `sara smoke`: picks the device, runs the fused low-rank forward on random data against a float64 reference, prints the
/// error, and exits with <see cref="SaraCli.ExitCheckFailed"/> when it is not below <see cref="Tolerance"/> (or is NaN).
/// </summary>
internal static class SmokeCommand
{
    /// <summary>The house tolerance for float32 work against a float64 oracle.</summary>
    public const double Tolerance = 1e-5;

    public static Command Create(CliContext context)
    {
        var device = CommonOptions.Device();
        var command = new Command("smoke", "Run the fused low-rank forward once on random data and print its error against float64.") { device };
        command.SetAction(r => context.Guard("smoke", () => Run(context.Output, context.Error, r.GetValue(device))));
        return command;
    }

    private static int Run(TextWriter output, TextWriter error, string? device)
    {
        using var backend = Devices.Create(device);
        output.WriteLine($"device: {backend.Name} — {backend.Description}");
        const int t = 256, n = 512, m = 384, k = 24;
        var rng = new Random(1);
        float[] R(long count) => Enumerable.Range(0, (int)count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] xs = R(t * n), as_ = R(m * k), bs = R(k * n), lam = R(k);
        using var x = backend.FromArray(xs, t, n);
        using var a = backend.FromArray(as_, m, k);
        using var b = backend.FromArray(bs, k, n);
        using var lambda = backend.FromArray(lam, k);
        using var y = backend.Zeros(t, m);
        using var h = backend.Empty(t, k);
        using var z = backend.Empty(t, k);
        var sw = Stopwatch.StartNew();
        LowRankOps.AdapterForward(backend, x, a, b, lambda, 1f, y, h, z);
        backend.Synchronize();
        var ms = sw.Elapsed.TotalMilliseconds;
        var got = y.ToArray();
        // Float64 reference: Z = (X B^T) diag(lambda) once, then Y = Z A^T.
        var zRef = new double[t * k];
        for (var i = 0; i < t; i++)
            for (var r = 0; r < k; r++)
            {
                double hr = 0;
                for (var c = 0; c < n; c++) hr += (double)xs[i * n + c] * bs[r * n + c];
                zRef[i * k + r] = hr * lam[r];
            }
        double num = 0, den = 0;
        for (var i = 0; i < t; i++)
            for (var j = 0; j < m; j++)
            {
                double acc = 0;
                for (var r = 0; r < k; r++) acc += zRef[i * k + r] * as_[j * k + r];
                num += (got[i * m + j] - acc) * (got[i * m + j] - acc);
                den += acc * acc;
            }
        var relativeError = Math.Sqrt(num / den);
        output.WriteLine($"lowrank forward T={t} n={n} m={m} k={k}: {ms:F2} ms, relative error vs float64 {relativeError:E2}");
        return Verdict(relativeError, backend.Name, error);
    }

    /// <summary>0 when <paramref name="relativeError"/> is below <see cref="Tolerance"/>; else one line on stderr and a non-zero code (NaN fails).</summary>
    internal static int Verdict(double relativeError, string device, TextWriter error)
    {
        if (relativeError < Tolerance) return 0;
        error.WriteLine($"sara smoke: error: the fused low-rank forward on {device} is wrong: relative error {relativeError:E2} " +
                        $"against float64, tolerance {Tolerance:E0}");
        return SaraCli.ExitCheckFailed;
    }
}
