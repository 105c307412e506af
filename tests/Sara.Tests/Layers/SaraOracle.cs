using Sara.Tests.Support;

namespace Sara.Tests.Layers;

/// <summary>Float64 forward and backward of a SARA layer (DESIGN 1.2), written straight from the formulas.</summary>
public sealed class SaraOracle(int t, int n, int m, int k)
{
    public double[] X = [], W0 = [], Bias = [], A = [], B = [], Lambda = [];
    public double Scale = 1;

    public double[] Forward()
    {
        var y = Oracle.MatMul(X, t, n, false, W0, m, n, true);
        if (Bias.Length > 0) y = Oracle.AddRowVector(y, t, m, Bias);
        var z = Oracle.ScaleColumns(Oracle.MatMul(X, t, n, false, B, k, n, true), t, k, Lambda);
        return Oracle.Add(y, Oracle.MatMul(z, t, k, false, A, m, k, true), Scale);
    }

    public (double[] dX, double[] dLambda, double[] dA, double[] dB, double[] dBias) Backward(double[] g)
    {
        var h = Oracle.MatMul(X, t, n, false, B, k, n, true);
        var z = Oracle.ScaleColumns(h, t, k, Lambda);
        var dz = Oracle.MatMul(g, t, m, false, A, m, k, false);
        for (var i = 0; i < dz.Length; i++) dz[i] *= Scale;
        var dLambda = Oracle.ColumnSum(Oracle.Mul(dz, h), t, k);
        var dh = Oracle.ScaleColumns(dz, t, k, Lambda);
        var dA = Oracle.MatMul(g, t, m, true, z, t, k, false);
        for (var i = 0; i < dA.Length; i++) dA[i] *= Scale;
        var dB = Oracle.MatMul(dh, t, k, true, X, t, n, false);
        var dX = Oracle.Add(Oracle.MatMul(g, t, m, false, W0, m, n, false), Oracle.MatMul(dh, t, k, false, B, k, n, false));
        return (dX, dLambda, dA, dB, Oracle.ColumnSum(g, t, m));
    }

    /// <summary>L = sum(Y (.) R): its gradient with respect to Y is R.</summary>
    public double Loss(double[] r)
    {
        var y = Forward();
        double l = 0;
        for (var i = 0; i < y.Length; i++) l += y[i] * r[i];
        return l;
    }
}
