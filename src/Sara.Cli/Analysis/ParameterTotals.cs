using Sara.Native.Svd;

namespace Sara.Cli.Analysis;

/// <summary>
/// Trainable parameters of a rank plan's layers under each method (per layer m x n, rank k):
/// SARA k + m k + k n (lambda, A, B: DESIGN 1.2, A and B train by default) and lambda only (k, A and B frozen);
/// Mo-SARA 2 E k + E; LoRA r (m + n); full fine-tuning m n.
/// </summary>
public sealed record ParameterTotals(long Sara, long SaraLambdaOnly, long MoSara, int Experts, long LoraR8, long LoraR16, long Full)
{
    public static ParameterTotals For(IEnumerable<LayerRank> layers, int experts)
    {
        long sara = 0, lambdaOnly = 0, moSara = 0, lora8 = 0, lora16 = 0, full = 0;
        foreach (var l in layers)
        {
            long m = l.Rows, n = l.Cols, k = l.K;
            sara += k + m * k + k * n;
            lambdaOnly += k;
            moSara += 2L * experts * k + experts;
            lora8 += Lora(8, m, n);
            lora16 += Lora(16, m, n);
            full += m * n;
        }
        return new ParameterTotals(sara, lambdaOnly, moSara, experts, lora8, lora16, full);
    }

    public static long Lora(int r, long m, long n) => r * (m + n);
}
