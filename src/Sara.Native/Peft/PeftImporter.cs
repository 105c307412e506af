// PEFT LoRA -> SARA form (DESIGN 3.3): QR of each factor, SVD of the small core, numerically zero directions dropped.
using Sara.Native.IO;
using Sara.Native.Runtime;
using Sara.Native.Svd;

namespace Sara.Native.Peft;

/// <summary>What the import found for one module: its LoRA rank and scaling, and the rank of its update.</summary>
public sealed record PeftImportedLayer(string Name, int Out, int In, int R, double Scaling, int EffectiveRank,
    double LargestSingularValue, double SmallestKeptSingularValue);

/// <summary>
/// Re-factors each module's update <c>scaling * lora_B lora_A</c> into SARA form, in float64 through LAPACK:
/// <c>lora_B = Q_B R_B</c>, <c>lora_A^T = Q_A R_A</c>, <c>scaling R_B R_A^T = U S V^T</c>, then <c>A = Q_B U</c>,
/// <c>B = (Q_A V)^T</c>, <c>lambda = S</c>, <c>s = 1</c>. Singular values at or below
/// <c>tolerance * sigma_1</c> are numerically zero and dropped, so a rank-deficient LoRA imports with its true rank.
/// Training then continues as SARA (A, B orthonormal, lambda in singular-value units). The file says criterion SumFraction,
/// tau 1: the rank keeps the whole spectrum of the update.
/// </summary>
public static class PeftImporter
{
    /// <summary>
    /// Default relative tolerance for a module of LoRA rank r: <c>r * 2^-23</c>, the size of the singular values that
    /// float32 rounding of the factors alone can produce.
    /// </summary>
    public static double DefaultTolerance(int r) => r * Math.ScaleB(1.0, -23);

    /// <summary>
    /// The SARA adapter of <paramref name="lora"/> (layer names are the key stems after the import prefix) and one
    /// report row per module. A module whose update is exactly zero (an untrained LoRA) has nothing to import and is
    /// left out (reported with effective rank 0); when every module is zero, that is an error.
    /// </summary>
    public static (AdapterFile Adapter, IReadOnlyList<PeftImportedLayer> Layers) ToSara(PeftLora lora, string prefix = PeftLoraConfig.DefaultPrefix,
        double? tolerance = null)
    {
        ArgumentNullException.ThrowIfNull(lora);
        ArgumentNullException.ThrowIfNull(prefix);
        if (tolerance is { } t && !(t >= 0 && t < 1)) throw new ArgumentOutOfRangeException(nameof(tolerance), t, "the rank tolerance must be in [0, 1)");
        // The rank is the update's own (all of its singular values but the numerically zero ones): criterion SumFraction at tau = 1.
        var adapter = new AdapterFile(AdapterMetadata.Create(AdapterMethod.Sara, nameof(RankCriterion.SumFraction), 1.0, 1.0));
        var report = new List<PeftImportedLayer>();
        foreach (var module in lora.Modules)
        {
            var name = module.Key.StartsWith(prefix, StringComparison.Ordinal) ? module.Key[prefix.Length..] : module.Key;
            var (r, alpha) = lora.Config.For(module.Module);
            var scaling = lora.Config.Scaling(r, alpha);
            var (a, b, lambda) = Factor(module, scaling, tolerance ?? DefaultTolerance(module.R));
            var k = lambda.Length;
            report.Add(new PeftImportedLayer(name, module.Out, module.In, module.R, scaling, k,
                k == 0 ? 0 : lambda[0], k == 0 ? 0 : lambda[^1]));
            if (k > 0) adapter.AddLayer(AdapterLayer.Sara(name, module.Out, module.In, lambda, a, b));
        }
        if (adapter.Layers.Count == 0)
            throw new InvalidDataException("every module's update scaling * lora_B lora_A is zero (an untrained adapter?): there is nothing to import");
        return (adapter, report);
    }

    /// <summary>
    /// SARA factors of <c>scaling * lora_B lora_A</c>: A (out x k), B (k x in), lambda (k, descending), k the number of
    /// singular values above <c>tolerance * sigma_1</c> (0 when the update is zero).
    /// </summary>
    public static (float[] A, float[] B, float[] Lambda) Factor(PeftModule module, double scaling, double tolerance)
    {
        ArgumentNullException.ThrowIfNull(module);
        int m = module.Out, n = module.In, r = module.R;
        var (qb, rb) = HostLapack.ThinQr(Array.ConvertAll(module.LoraB, v => (double)v), m, r);       // m x p, p x r
        var at = new double[(long)n * r];
        for (var i = 0; i < r; i++)
            for (var j = 0; j < n; j++) at[(long)j * r + i] = module.LoraA[(long)i * n + j];
        var (qa, ra) = HostLapack.ThinQr(at, n, r);                                                     // n x q, q x r
        int p = Math.Min(m, r), q = Math.Min(n, r);

        // core = scaling R_B R_A^T (p x q)
        var core = new double[(long)p * q];
        for (var i = 0; i < p; i++)
            for (var j = 0; j < q; j++)
            {
                double acc = 0;
                for (var c = 0; c < r; c++) acc += rb[(long)i * r + c] * ra[(long)j * r + c];
                core[(long)i * q + j] = scaling * acc;
            }
        var (u, s, vt) = HostLapack.Svd(core, p, q);                                                    // p x t, t, t x q
        int tdim = s.Length;
        var k = 0;
        while (k < tdim && s[k] > tolerance * s[0] && s[k] > 0) k++;

        var a = new float[(long)m * k];
        for (var i = 0; i < m; i++)
            for (var j = 0; j < k; j++)
            {
                double acc = 0;
                for (var c = 0; c < p; c++) acc += qb[(long)i * p + c] * u[(long)c * tdim + j];
                a[(long)i * k + j] = (float)acc;
            }
        var b = new float[(long)k * n];
        for (var i = 0; i < k; i++)
            for (var j = 0; j < n; j++)
            {
                double acc = 0;
                for (var c = 0; c < q; c++) acc += vt[(long)i * q + c] * qa[(long)j * q + c];
                b[(long)i * n + j] = (float)acc;
            }
        var lambda = new float[k];
        for (var i = 0; i < k; i++) lambda[i] = (float)s[i];
        return (a, b, lambda);
    }
}
