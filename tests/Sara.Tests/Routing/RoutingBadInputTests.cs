using Sara.Native.Backends;
using Sara.Native.Tensors;
using Sara.Tests.Support;

namespace Sara.Tests.Routing;

/// <summary>Bad arguments to the routing ops fail with an ArgumentException-family error naming the argument and shape.</summary>
public class RoutingBadInputTests
{
    private const int T = 4, E = 3, K = 5;

    private sealed class Args(Backend b) : IDisposable
    {
        private readonly TensorScope _scope = new();
        public Tensor H = b.FromArray(new Rand().Normal(T * K), T, K), Wg = b.FromArray(new Rand().Normal(E * K), E, K),
            Bg = b.Zeros(E), Lambdas = b.Zeros(E, K), Gates = b.Zeros(T, E), LamEff = b.Zeros(T, K), Z = b.Zeros(T, K),
            Dz = b.Zeros(T, K), Dh = b.Zeros(T, K), DLambdas = b.Zeros(E, K), DWg = b.Zeros(E, K), Dbg = b.Zeros(E);

        public void Dispose() => _scope.Dispose();
    }

    private static void Forward(Backend b, Args a, Tensor? h = null, Tensor? wg = null, Tensor? bg = null, Tensor? lambdas = null,
        int topK = 0, Tensor? gates = null, Tensor? lamEff = null, Tensor? z = null, bool checkFinite = false) =>
        b.RoutingForward(h ?? a.H, wg ?? a.Wg, bg ?? a.Bg, lambdas ?? a.Lambdas, topK, gates ?? a.Gates, lamEff ?? a.LamEff, z ?? a.Z, checkFinite);

    private static void Backward(Backend b, Args a, Tensor? dz = null, Tensor? gates = null, int topK = 0, float beta = 0f,
        Tensor? dh = null, Tensor? dLambdas = null, Tensor? dWg = null, Tensor? dbg = null, bool checkFinite = false) =>
        b.RoutingBackward(dz ?? a.Dz, a.H, a.Wg, a.Lambdas, gates ?? a.Gates, a.LamEff, topK, beta, dh ?? a.Dh,
            dLambdas ?? a.DLambdas, dWg ?? a.DWg, dbg ?? a.Dbg, checkFinite);

    private static void Expect<TE>(TestDelegate call, string param, string text) where TE : ArgumentException
    {
        var ex = Assert.Throws<TE>(call);
        Assert.That(ex!.ParamName, Is.EqualTo(param));
        Assert.That(ex.Message, Does.Contain(text));
    }

    [TestCase("cpu"), TestCase("emu")]
    public void BadShapesAndOptionsNameTheArgument(string device)
    {
        using var b = TestDevices.Create(device);
        using var a = new Args(b);
        using var scope = new TensorScope();
        Assert.DoesNotThrow(() => Forward(b, a, topK: 2));
        Assert.DoesNotThrow(() => Backward(b, a, topK: 2, beta: 0.1f));

        Expect<ArgumentOutOfRangeException>(() => Forward(b, a, wg: b.Zeros(0, K), lambdas: b.Zeros(0, K), bg: b.Zeros(0)), "wg", "E (experts) in [1, 64]");
        Expect<ArgumentOutOfRangeException>(() => Forward(b, a, wg: b.Zeros(65, K)), "wg", "[65, 5]");
        Expect<ArgumentOutOfRangeException>(() => Forward(b, a, h: b.Zeros(T, 513)), "h", "k in [1, 512]");
        Expect<ArgumentOutOfRangeException>(() => Forward(b, a, h: b.Zeros(T, 0)), "h", "k in [1, 512]");
        Expect<ArgumentException>(() => Forward(b, a, wg: b.Zeros(E, K + 1)), "wg", "[3, 5]");
        Expect<ArgumentOutOfRangeException>(() => Forward(b, a, topK: E + 1), "topK", "[1, E = 3]");
        Expect<ArgumentOutOfRangeException>(() => Forward(b, a, topK: -1), "topK", "got -1");
        Expect<ArgumentException>(() => Forward(b, a, bg: b.Zeros(E + 1)), "bg", "[3]");
        Expect<ArgumentException>(() => Forward(b, a, lambdas: b.Zeros(E, K - 1)), "lambdas", "[3, 5]");
        Expect<ArgumentException>(() => Forward(b, a, gates: b.Zeros(T, E + 1)), "gates", "[4, 3]");
        Expect<ArgumentException>(() => Forward(b, a, lamEff: b.Zeros(T + 1, K)), "lamEff", "[4, 5]");
        Expect<ArgumentException>(() => Forward(b, a, z: b.Zeros(T * K)), "z", "[4, 5]");
        Assert.Throws<ArgumentNullException>(() => b.RoutingForward(a.H, a.Wg, null!, a.Lambdas, 0, a.Gates, a.LamEff, a.Z));

        Expect<ArgumentException>(() => Backward(b, a, dz: b.Zeros(T, K + 1)), "dz", "[4, 5]");
        Expect<ArgumentException>(() => Backward(b, a, gates: b.Zeros(T - 1, E)), "gates", "[4, 3]");
        Expect<ArgumentOutOfRangeException>(() => Backward(b, a, topK: 4), "topK", "[1, E = 3]");
        Expect<ArgumentOutOfRangeException>(() => Backward(b, a, beta: -1f), "balanceWeight", ">= 0");
        Expect<ArgumentOutOfRangeException>(() => Backward(b, a, beta: float.NaN), "balanceWeight", ">= 0");
        Expect<ArgumentException>(() => Backward(b, a, dh: b.Zeros(K, T)), "dh", "[4, 5]");
        Expect<ArgumentException>(() => Backward(b, a, dLambdas: b.Zeros(K, E)), "dLambdas", "[3, 5]");
        Expect<ArgumentException>(() => Backward(b, a, dWg: b.Zeros(E)), "dWg", "[3, 5]");
        Expect<ArgumentException>(() => Backward(b, a, dbg: b.Zeros(E, 1)), "dbg", "[3]");
        Expect<ArgumentOutOfRangeException>(() => b.RouterStatistics(b.Zeros(T, 65)), "gates", "E in [1, 64]");
        Expect<ArgumentException>(() => b.RouterStatistics(b.Zeros(T)), "gates", "2-D");
    }

    [TestCase("cpu"), TestCase("emu")]
    public void NonFiniteInputsFailOnlyWhenChecked(string device)
    {
        using var b = TestDevices.Create(device);
        using var a = new Args(b);
        var hs = a.H.ToArray();
        hs[7] = float.NaN;
        b.Upload(a.H, hs);
        Assert.DoesNotThrow(() => Forward(b, a));
        Expect<ArgumentException>(() => Forward(b, a, checkFinite: true), "h", "row 1, column 2");
        Expect<ArgumentException>(() => Backward(b, a, checkFinite: true), "h", "NaN");

        hs[7] = 1f;
        b.Upload(a.H, hs);
        var ws = a.Wg.ToArray();
        ws[0] = float.PositiveInfinity;
        b.Upload(a.Wg, ws);
        Expect<ArgumentException>(() => Forward(b, a, checkFinite: true), "wg", "flat index 0");
    }
}
