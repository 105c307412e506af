using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Sara.Native.Svd;

/// <summary>
/// The ranks of many layers: printed with <see cref="ToTable"/>, saved with <see cref="ToJson"/>, read back with
/// <see cref="FromJson"/> and edited with <see cref="SetRank"/> before adapters are built.
/// </summary>
public sealed class RankPlan
{
    public const string Format = "sara-rank-plan";
    public const int Version = 1;

    private readonly List<LayerRank> _layers;
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

    public RankPlan(IEnumerable<LayerRank> layers, RankOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(layers);
        _layers = layers.ToList();
        for (var i = 0; i < _layers.Count; i++)
        {
            var l = _layers[i] ?? throw new ArgumentException($"Layer entry {i} is null.", nameof(layers));
            if (!_index.TryAdd(l.Layer, i)) throw new ArgumentException($"Layer '{l.Layer}' appears twice.", nameof(layers));
            CheckRank(l.Layer, l.Rows, l.Cols, l.K, nameof(layers));
        }
        Options = options;
    }

    /// <summary>The options the plan was made with (null when unknown).</summary>
    public RankOptions? Options { get; }

    public IReadOnlyList<LayerRank> Layers => _layers;

    /// <summary>The rank of <paramref name="layer"/>; KeyNotFoundException when the plan has no such layer.</summary>
    public int this[string layer] => _layers[IndexOf(layer)].K;

    public bool Contains(string layer) => _index.ContainsKey(layer);

    /// <summary>Sum over layers of k (m + n) + k: trainable parameters of SARA adapters with A and B trainable.</summary>
    public long AdapterParameters => _layers.Sum(l => l.AdapterParameters);

    /// <summary>Sets the rank of one layer by hand (1 &lt;= k &lt;= min(m, n)); its FractionReached becomes NaN (unknown).</summary>
    public void SetRank(string layer, int k)
    {
        var i = IndexOf(layer);
        var l = _layers[i];
        CheckRank(layer, l.Rows, l.Cols, k, nameof(k));
        _layers[i] = l with { K = k, FractionReached = k == l.K && !l.Edited ? l.FractionReached : double.NaN, Edited = l.Edited || k != l.K };
    }

    /// <summary>
    /// An aligned text table: layer, shape, k, fraction reached, the total's relative error bound ("exact" when it is
    /// exact), s_1, s_k, stable rank, milliseconds.
    /// </summary>
    public string ToTable()
    {
        var rows = new List<string[]> { new[] { "layer", "shape", "k", "reached", "total", "s_1", "s_k", "stable rank", "ms" } };
        foreach (var l in _layers)
            rows.Add([l.Layer, $"{l.Rows}x{l.Cols}", l.K.ToString(CultureInfo.InvariantCulture),
                l.Edited ? "edited" : l.FractionReached.ToString("F4", CultureInfo.InvariantCulture), TotalText(l),
                G(l.Spectrum.Largest), G(l.Spectrum.AtRank), l.Spectrum.StableRank.ToString("F1", CultureInfo.InvariantCulture),
                (l.Seconds * 1000).ToString("F1", CultureInfo.InvariantCulture)]);
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        var sb = new StringBuilder();
        foreach (var r in rows)
        {
            for (var c = 0; c < r.Length; c++)
            {
                if (c > 0) sb.Append("  ");
                sb.Append(c == 0 ? r[c].PadRight(widths[c]) : r[c].PadLeft(widths[c]));
            }
            sb.AppendLine();
        }
        var o = Options;
        sb.Append(CultureInfo.InvariantCulture, $"{_layers.Count} layers, adapter parameters {AdapterParameters:N0}");
        if (o is not null) sb.Append(CultureInfo.InvariantCulture, $"; {o.Criterion}, tau {o.Tau}, k in [{o.KMin}, {o.KMax}]");
        return sb.AppendLine().ToString();

        static string G(double v) => v.ToString("G5", CultureInfo.InvariantCulture);
    }

    /// <summary>"exact", or the estimate's relative bound ("±0.31%").</summary>
    public static string TotalText(LayerRank layer) => layer.Estimate is { } e
        ? "±" + (100 * e.RelativeBound).ToString("F2", CultureInfo.InvariantCulture) + "%"
        : "exact";

    public string ToJson()
    {
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            j.WriteStartObject();
            j.WriteString("format", Format);
            j.WriteNumber("version", Version);
            if (Options is { } o)
            {
                j.WriteStartObject("options");
                j.WriteString("criterion", o.Criterion.ToString());
                j.WriteNumber("tau", o.Tau);
                j.WriteNumber("kMin", o.KMin);
                j.WriteNumber("kMax", o.KMax);
                j.WriteNumber("oversampling", o.Oversampling);
                j.WriteNumber("powerIterations", o.PowerIterations);
                j.WriteNumber("seed", o.Seed);
                j.WriteString("spectrum", o.Spectrum.ToString());
                j.WriteNumber("blockSize", o.Krylov.BlockSize);
                j.WriteNumber("krylovOversampling", o.Krylov.Oversampling);
                j.WriteNumber("probes", o.Krylov.Probes);
                j.WriteNumber("lanczosSteps", o.Krylov.LanczosSteps);
                j.WriteEndObject();
            }
            j.WriteStartArray("layers");
            foreach (var l in _layers)
            {
                j.WriteStartObject();
                j.WriteString("layer", l.Layer);
                j.WriteNumber("rows", l.Rows);
                j.WriteNumber("cols", l.Cols);
                j.WriteNumber("k", l.K);
                Number(j, "fractionReached", l.FractionReached);
                Number(j, "seconds", l.Seconds);
                j.WriteString("criterion", l.Criterion.ToString());
                j.WriteNumber("tau", l.Tau);
                j.WriteBoolean("edited", l.Edited);
                var s = l.Spectrum;
                j.WriteStartObject("spectrum");
                j.WriteNumber("known", s.Known);
                Number(j, "largest", s.Largest);
                Number(j, "atRank", s.AtRank);
                Number(j, "smallest", s.Smallest);
                Number(j, "total", s.Total);
                Number(j, "frobeniusSquared", s.FrobeniusSquared);
                Number(j, "stableRank", s.StableRank);
                j.WriteEndObject();
                if (l.Estimate is { } e)
                {
                    j.WriteStartObject("totalEstimate");
                    Number(j, "leading", e.Leading);
                    j.WriteNumber("leadingCount", e.LeadingCount);
                    Number(j, "remainder", e.Remainder);
                    j.WriteNumber("complementDimension", e.ComplementDimension);
                    Number(j, "standardError", e.StandardError);
                    Number(j, "quadratureChange", e.QuadratureChange);
                    Number(j, "relativeBound", e.RelativeBound);
                    j.WriteNumber("probes", e.Probes);
                    j.WriteNumber("steps", e.Steps);
                    j.WriteEndObject();
                }
                j.WriteEndObject();
            }
            j.WriteEndArray();
            j.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>Reads a plan written by <see cref="ToJson"/> (possibly edited by hand); errors name the layer and field.</summary>
    public static RankPlan FromJson(string json)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(json);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"Not a JSON rank plan: {e.Message}", nameof(json), e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || Str(root, "format", "plan") != Format)
                throw new ArgumentException($"Not a rank plan: 'format' must be \"{Format}\".", nameof(json));
            var version = Int(root, "version", "plan");
            if (version != Version) throw new ArgumentException($"Rank plan version {version} is not supported (expected {Version}).", nameof(json));
            RankOptions? options = null;
            if (root.TryGetProperty("options", out var o))
            {
                options = new RankOptions(Enum<RankCriterion>(o, "criterion", "options"), Num(o, "tau", "options"),
                    Int(o, "kMin", "options"), Int(o, "kMax", "options"))
                {
                    Oversampling = Int(o, "oversampling", "options"),
                    PowerIterations = Int(o, "powerIterations", "options"),
                    Seed = Int(o, "seed", "options"),
                };
                // Written since the block Krylov path; plans from before it lack them and keep the defaults.
                if (o.TryGetProperty("spectrum", out _)) options = options with { Spectrum = Enum<SpectrumMode>(o, "spectrum", "options") };
                if (o.TryGetProperty("blockSize", out _))
                    options = options with
                    {
                        Krylov = new KrylovOptions
                        {
                            BlockSize = Int(o, "blockSize", "options"), Oversampling = Int(o, "krylovOversampling", "options"),
                            Probes = Int(o, "probes", "options"), LanczosSteps = Int(o, "lanczosSteps", "options"),
                        },
                    };
                try
                {
                    options.Validate();
                }
                catch (ArgumentException e)
                {
                    throw new ArgumentException($"Rank plan options are invalid: {e.Message}", nameof(json), e);
                }
            }
            if (!root.TryGetProperty("layers", out var layers) || layers.ValueKind != JsonValueKind.Array)
                throw new ArgumentException("Rank plan has no 'layers' array.", nameof(json));
            var list = new List<LayerRank>();
            foreach (var e in layers.EnumerateArray())
            {
                var name = Str(e, "layer", $"layer entry {list.Count}");
                var where = $"layer '{name}'";
                if (!e.TryGetProperty("spectrum", out var s)) throw new ArgumentException($"Rank plan {where} has no 'spectrum'.", nameof(json));
                var spectrum = new SpectrumSummary(Int(s, "known", where), Num(s, "largest", where), Num(s, "atRank", where),
                    Num(s, "smallest", where), Num(s, "total", where), Num(s, "frobeniusSquared", where), Num(s, "stableRank", where));
                TotalEstimate? estimate = null;
                if (e.TryGetProperty("totalEstimate", out var t) && t.ValueKind != JsonValueKind.Null)
                    estimate = new TotalEstimate(Num(t, "leading", where), Int(t, "leadingCount", where), Num(t, "remainder", where),
                        Int(t, "complementDimension", where), Num(t, "standardError", where), Num(t, "quadratureChange", where),
                        Int(t, "probes", where), Int(t, "steps", where));
                list.Add(new LayerRank(name, Int(e, "rows", where), Int(e, "cols", where), Int(e, "k", where),
                    Num(e, "fractionReached", where), Num(e, "seconds", where), spectrum,
                    Enum<RankCriterion>(e, "criterion", where), Num(e, "tau", where), Bool(e, "edited", where), estimate));
            }
            try
            {
                return new RankPlan(list, options);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"Rank plan is invalid: {e.Message}", nameof(json), e);
            }
        }
    }

    private int IndexOf(string layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return _index.TryGetValue(layer, out var i) ? i : throw new KeyNotFoundException($"The rank plan has no layer '{layer}'.");
    }

    private static void CheckRank(string layer, int rows, int cols, int k, string argument)
    {
        if (rows < 1 || cols < 1) throw new ArgumentException($"Layer '{layer}': shape {rows}x{cols} is empty.", argument);
        var r = Math.Min(rows, cols);
        if (k < 1 || k > r) throw new ArgumentOutOfRangeException(argument, $"Layer '{layer}': k must be in [1, {r}] for {rows}x{cols}; got {k}.");
    }

    // NaN/Inf are not JSON numbers: they are written as null and read back as NaN.
    private static void Number(Utf8JsonWriter j, string name, double v)
    {
        if (double.IsFinite(v)) j.WriteNumber(name, v);
        else j.WriteNull(name);
    }

    private static JsonElement Field(JsonElement e, string name, string where) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v
            : throw new ArgumentException($"Rank plan {where} has no '{name}'.", "json");

    private static double Num(JsonElement e, string name, string where)
    {
        var v = Field(e, name, where);
        if (v.ValueKind == JsonValueKind.Null) return double.NaN;
        return v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw Bad(name, where, "a number");
    }

    private static int Int(JsonElement e, string name, string where)
    {
        var v = Field(e, name, where);
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw Bad(name, where, "an integer");
    }

    private static string Str(JsonElement e, string name, string where)
    {
        var v = Field(e, name, where);
        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Bad(name, where, "a string");
    }

    private static bool Bool(JsonElement e, string name, string where)
    {
        var v = Field(e, name, where);
        return v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Bad(name, where, "true or false");
    }

    private static T Enum<T>(JsonElement e, string name, string where) where T : struct, Enum =>
        System.Enum.TryParse<T>(Str(e, name, where), out var v) && System.Enum.IsDefined(v) ? v : throw Bad(name, where, $"one of {string.Join(", ", System.Enum.GetNames<T>())}");

    private static ArgumentException Bad(string name, string where, string expected) =>
        new($"Rank plan {where}: '{name}' must be {expected}.", "json");
}
