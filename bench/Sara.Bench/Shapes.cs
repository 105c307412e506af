// Shapes.cs — the bench shapes (issue: layer (T, n, m, k) triples, SVD n and k, Mo-SARA's E) and the device choice.
using Sara.Native.Backends;

namespace Sara.Bench;

/// <summary>A layer shape: T tokens, n inputs, m outputs, adapter rank k.</summary>
public sealed record LayerShape(int T, int N, int M, int K)
{
    public override string ToString() => $"T{T}_n{N}_m{M}_k{K}";
}

public static class Shapes
{
    public const int Experts = 4;

    public static readonly LayerShape[] Layers = [new(512, 1024, 1024, 16), new(2048, 1024, 1024, 32), new(1024, 2048, 2048, 64)];

    public static readonly int[] SvdN = [1024, 2048];
    public static readonly int[] SvdK = [32, 64];

    /// <summary>Power-law exponent of the SVD bench matrices (s_i = i^-a): the slowest decay the accuracy tests use.</summary>
    public const double SpectrumExponent = 0.5;

    /// <summary>The device every benchmark runs on: SARA_DEVICE (cpu | emu | cuda), else the default (GPU if present).</summary>
    public static Backend CreateBackend() => Devices.Create();
}
