// The tensors of one adapted layer (lambda, A, B; or Lambda, Wg, bg, A, B) and their expected shapes.
namespace Sara.Native.IO;

/// <summary>
/// One adapted layer of base shape m x n with rank k. SARA: <c>lambda</c> (k), <c>A</c> (m x k), <c>B</c> (k x n).
/// Mo-SARA with E experts: <c>Lambda</c> (E x k), <c>Wg</c> (E x k), <c>bg</c> (E), <c>A</c>, <c>B</c>.
/// </summary>
public sealed class AdapterLayer
{
    public string Name { get; }
    public int K { get; }
    public int M { get; }
    public int N { get; }

    /// <summary>Tensors by key ("lambda", "A", "B", ...); the file names them "&lt;layer&gt;.&lt;key&gt;".</summary>
    public IReadOnlyDictionary<string, AdapterTensor> Tensors { get; }

    public AdapterLayer(string name, int k, int m, int n, IReadOnlyDictionary<string, AdapterTensor> tensors)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(m, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        ArgumentNullException.ThrowIfNull(tensors);
        if (k > Math.Min(m, n))
            throw new ArgumentOutOfRangeException(nameof(k), k, $"rank k of layer '{name}' cannot exceed min(m, n) = {Math.Min(m, n)}");
        Name = name;
        K = k;
        M = m;
        N = n;
        Tensors = new Dictionary<string, AdapterTensor>(tensors, StringComparer.Ordinal);
    }

    /// <summary>A SARA layer: lambda (k), A (m x k), B (k x n).</summary>
    public static AdapterLayer Sara(string name, int m, int n, float[] lambda, float[] a, float[] b)
    {
        ArgumentNullException.ThrowIfNull(lambda);
        int k = lambda.Length;
        return new AdapterLayer(name, k, m, n, new Dictionary<string, AdapterTensor>
        {
            ["lambda"] = new([k], lambda),
            ["A"] = new([m, k], a),
            ["B"] = new([k, n], b),
        });
    }

    /// <summary>A Mo-SARA layer with E = bg.Length experts: Lambda (E x k), Wg (E x k), bg (E), A (m x k), B (k x n).</summary>
    public static AdapterLayer MoSara(string name, int m, int n, int k, float[] lambda, float[] wg, float[] bg, float[] a, float[] b)
    {
        ArgumentNullException.ThrowIfNull(bg);
        int e = bg.Length;
        return new AdapterLayer(name, k, m, n, new Dictionary<string, AdapterTensor>
        {
            ["Lambda"] = new([e, k], lambda),
            ["Wg"] = new([e, k], wg),
            ["bg"] = new([e], bg),
            ["A"] = new([m, k], a),
            ["B"] = new([k, n], b),
        });
    }

    /// <summary>The tensors a layer of this method must hold, with their shapes.</summary>
    public static IReadOnlyDictionary<string, int[]> RequiredShapes(AdapterMethod method, int k, int m, int n, int experts) =>
        method == AdapterMethod.Sara
            ? new Dictionary<string, int[]> { ["lambda"] = [k], ["A"] = [m, k], ["B"] = [k, n] }
            : new Dictionary<string, int[]>
            {
                ["Lambda"] = [experts, k], ["Wg"] = [experts, k], ["bg"] = [experts], ["A"] = [m, k], ["B"] = [k, n],
            };

    /// <summary>Every way this layer differs from what <paramref name="method"/> with <paramref name="experts"/> needs.</summary>
    public IEnumerable<string> Problems(AdapterMethod method, int experts)
    {
        var required = RequiredShapes(method, K, M, N, experts);
        foreach (var (key, shape) in required)
        {
            if (!Tensors.TryGetValue(key, out var t))
                yield return $"tensor '{Name}.{key}' is missing";
            else if (!t.Shape.SequenceEqual(shape))
                yield return $"tensor '{Name}.{key}' has shape {t.ShapeText}, expected [{string.Join(", ", shape)}]";
        }
        foreach (var key in Tensors.Keys.Where(k => !required.ContainsKey(k)))
            yield return $"tensor '{Name}.{key}' does not belong to a {AdapterMethods.ToText(method)} layer";
    }
}
