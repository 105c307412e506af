using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Native.Optim;

/// <summary>
/// AdamW over a set of float32 parameters (master weights; moments float32 too). A step updates every parameter with a
/// gradient in one batched call per backend (<see cref="Backend.AdamW(IReadOnlyList{AdamWTensor}, AdamWOptions, int)"/>:
/// on the GPU one kernel launch per up to 8 tensors, so a layer's parameters take one launch).
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly List<(Variable Param, Tensor M, Tensor V)> _state = new();

    public AdamW(IEnumerable<Variable> parameters, AdamWOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        using var _ = TensorScope.Suspend();
        foreach (var p in parameters)
        {
            if (!p.RequiresGrad) throw new ArgumentException($"Parameter '{p.Name}' does not require a gradient.", nameof(parameters));
            if (p.Value.DType != DType.F32)
                throw new ArgumentException($"Parameter '{p.Name}' is {p.Value.Describe}: AdamW updates float32 master weights only " +
                                            "(DESIGN 3.1); keep the trainable copy in f32 and convert it for compute.", nameof(parameters));
            var backend = p.Value.Backend;
            _state.Add((p, backend.Zeros(p.Value.Shape), backend.Zeros(p.Value.Shape)));
        }
    }

    public AdamWOptions Options { get; set; }
    public int StepCount { get; private set; }
    public IEnumerable<Variable> Parameters => _state.Select(s => s.Param);

    /// <summary>Updates every parameter whose gradient this tape's backward wrote.</summary>
    public void Step(Tape tape)
    {
        StepCount++;
        foreach (var group in _state.Where(s => s.Param.HasGrad(tape)).GroupBy(s => s.Param.Value.Backend))
            group.Key.AdamW(group.Select(s => new AdamWTensor(s.Param.Value, s.Param.Grad!, s.M, s.V)).ToArray(), Options, StepCount);
    }

    public void Dispose()
    {
        foreach (var (_, m, v) in _state)
        {
            m.Dispose();
            v.Dispose();
        }
        _state.Clear();
    }
}
