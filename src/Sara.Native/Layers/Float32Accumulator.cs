using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Native.Layers;

/// <summary>
/// Where a layer sums several terms into one output (Y = X W0^T + b + s Z A^T; dX = dH B + G W0): for a 16-bit output the
/// terms go into a float32 tensor and the sum is rounded once at the end (DESIGN 3.1), instead of once per term.
/// For a float32 output it is the output itself and costs nothing.
/// </summary>
internal sealed class Float32Accumulator
{
    private readonly Backend _backend;
    private readonly Tensor _target;
    private readonly float _targetBeta;

    /// <summary>Accumulates into <paramref name="target"/> = <paramref name="beta"/> target + (the terms).</summary>
    public Float32Accumulator(Backend backend, Tensor target, float beta)
    {
        _backend = backend;
        _target = target;
        _targetBeta = beta;
        Sum = target.DType == DType.F32 ? target : backend.Empty(target.Shape);
    }

    /// <summary>The float32 tensor the terms are written into.</summary>
    public Tensor Sum { get; }

    /// <summary>The beta of the first term written into <see cref="Sum"/>.</summary>
    public float FirstBeta => ReferenceEquals(Sum, _target) ? _targetBeta : 0f;

    /// <summary>Rounds the float32 sum into the 16-bit target once (adding beta target); nothing for a float32 target.</summary>
    public void Finish()
    {
        if (ReferenceEquals(Sum, _target)) return;
        if (_targetBeta == 0f) _backend.Convert(Sum, _target);
        else _backend.Axpby(1f, Sum, _targetBeta, _target);
        Sum.Dispose();
    }
}
