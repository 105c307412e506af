namespace Sara.Native.Autograd;

/// <summary>Activation functions as autograd ops.</summary>
public static class Activations
{
    /// <summary>max(x, 0); its backward passes the gradient where the output is positive.</summary>
    public static Variable Relu(Tape tape, Variable x)
    {
        var backend = x.Value.Backend;
        var y = backend.Empty(x.Value.Shape);
        backend.Relu(x.Value, y);
        var output = new Variable(y, x.RequiresGrad);
        if (x.RequiresGrad)
            tape.Record(() =>
            {
                if (!output.HasGrad(tape)) return;
                var (dx, beta) = x.GradTarget(tape);
                backend.ReluBackward(output.Grad!, y, dx, beta);
            });
        return output;
    }
}
