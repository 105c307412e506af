using Sara.Native.Backends;
using Sara.Native.Tensors;

namespace Sara.Native.Ops;

/// <summary>
/// Where a stateless backward writes one gradient: <c>Tensor = Beta * Tensor + gradient</c>. Beta 0 overwrites (the
/// tensor's old contents, even NaN, are ignored); beta 1 accumulates, as a trainer's own autograd does for a
/// parameter used twice. A parameter gradient is float32.
/// </summary>
public readonly record struct GradOut(Tensor Tensor, float Beta = 0f)
{
    public static implicit operator GradOut(Tensor t) => new(t);

    /// <summary>
    /// Runs <paramref name="write"/> (an op that overwrites its output) so the result lands as Beta * Tensor + value: into
    /// the tensor itself for beta 0, else into a scratch tensor that is then added.
    /// </summary>
    internal void Write(Backend backend, Action<Tensor> write)
    {
        if (Beta == 0f)
        {
            write(Tensor);
            return;
        }
        using var scratch = backend.Empty(Tensor.DType, Tensor.Shape);
        write(scratch);
        backend.Axpby(1f, scratch, Beta, Tensor);
    }
}
