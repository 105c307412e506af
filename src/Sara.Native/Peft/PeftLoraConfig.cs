// adapter_config.json of a PEFT LoRA: the fields that decide which modules carry an adapter and how it is scaled.
using System.Globalization;
using System.Text.Json;
using Sara.Native.IO;

namespace Sara.Native.Peft;

/// <summary>
/// The LoRA settings of a PEFT <c>adapter_config.json</c> (huggingface/peft <c>LoraConfig</c>) that change what the
/// adapter computes: <c>y += scaling * lora_B(lora_A(x))</c>, <c>scaling = alpha / r</c> (<c>alpha / sqrt(r)</c> with
/// <see cref="UseRslora"/>), r and alpha per module from <see cref="RankPattern"/> / <see cref="AlphaPattern"/>
/// (first matching key, <see cref="PeftPatterns"/>) or else the global <see cref="R"/> / <see cref="LoraAlpha"/>.
/// Pattern entries keep their file order (PEFT takes the first key that matches).
/// </summary>
public sealed record PeftLoraConfig
{
    public const string FileName = "adapter_config.json";
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>The prefix PEFT puts before every module name in adapter_model.safetensors (PeftModel wraps LoraModel wraps the model).</summary>
    public const string DefaultPrefix = "base_model.model.";

    public int R { get; init; } = 8;
    public double LoraAlpha { get; init; } = 8;
    public bool UseRslora { get; init; }
    public IReadOnlyList<string> TargetModules { get; init; } = [];
    public IReadOnlyList<KeyValuePair<string, int>> RankPattern { get; init; } = [];
    public IReadOnlyList<KeyValuePair<string, double>> AlphaPattern { get; init; } = [];
    public string? BaseModelNameOrPath { get; init; }
    public string? TaskType { get; init; }

    /// <summary>Scaling of a module whose rank is <paramref name="r"/> and alpha <paramref name="alpha"/>.</summary>
    public double Scaling(int r, double alpha) => UseRslora ? alpha / Math.Sqrt(r) : alpha / r;

    /// <summary>The rank and alpha PEFT gives <paramref name="module"/> (its name inside the base model).</summary>
    public (int R, double Alpha) For(string module)
    {
        var rKey = PeftPatterns.FirstMatch(RankPattern.Select(p => p.Key), module);
        var aKey = PeftPatterns.FirstMatch(AlphaPattern.Select(p => p.Key), module);
        var r = rKey is null ? R : RankPattern.First(p => p.Key == rKey).Value;
        var alpha = aKey is null ? LoraAlpha : AlphaPattern.First(p => p.Key == aKey).Value;
        return (r, alpha);
    }

    /// <summary>
    /// Writes the config as PEFT does (indented JSON, keys sorted), atomically. Fields that only matter for training
    /// (dropout, initialisation) get PEFT's defaults, so PEFT and the tools that read its files load it as is.
    /// </summary>
    public void Save(string path) => AtomicFile.Write(path, WriteTo);

    /// <summary>The JSON <see cref="Save"/> writes, to <paramref name="stream"/>.</summary>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var j = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        j.WriteStartObject();
        j.WriteStartObject("alpha_pattern");
        foreach (var (key, alpha) in AlphaPattern) j.WriteNumber(key, alpha);
        j.WriteEndObject();
        if (BaseModelNameOrPath is null) j.WriteNull("base_model_name_or_path");
        else j.WriteString("base_model_name_or_path", BaseModelNameOrPath);
        j.WriteString("bias", "none");
        j.WriteBoolean("fan_in_fan_out", false);
        j.WriteBoolean("inference_mode", true);
        j.WriteBoolean("init_lora_weights", true);
        j.WriteNull("layers_pattern");
        j.WriteNull("layers_to_transform");
        j.WriteNumber("lora_alpha", LoraAlpha);
        j.WriteBoolean("lora_bias", false);
        j.WriteNumber("lora_dropout", 0.0);
        j.WriteNull("modules_to_save");
        j.WriteString("peft_type", "LORA");
        j.WriteNumber("r", R);
        j.WriteStartObject("rank_pattern");
        foreach (var (key, r) in RankPattern) j.WriteNumber(key, r);
        j.WriteEndObject();
        j.WriteNull("revision");
        j.WriteStartArray("target_modules");
        foreach (var t in TargetModules) j.WriteStringValue(t);
        j.WriteEndArray();
        if (TaskType is null) j.WriteNull("task_type");
        else j.WriteString("task_type", TaskType);
        j.WriteBoolean("use_dora", false);
        j.WriteBoolean("use_rslora", UseRslora);
        j.WriteEndObject();
    }

    /// <summary>
    /// Reads a LoRA config. Refused, each with one line naming the field: not a JSON object, a <c>peft_type</c> other than
    /// LORA, a bad <c>r</c> / <c>lora_alpha</c> / pattern value, and settings whose adapter is not scaling * B A on the
    /// base weight (DoRA, LoRA biases, trained biases, <c>fan_in_fan_out</c> Conv1D weights).
    /// </summary>
    public static PeftLoraConfig Load(string path)
    {
        var bytes = RegularFile.ReadAllBytes(path, "adapter config");
        if (StrictJson.Check(bytes) is { } fault) throw Bad(path, $"not strict JSON: {fault}");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw Bad(path, $"not valid JSON ({e.Message})");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad(path, "must be a JSON object");
            if (!root.TryGetProperty("peft_type", out var type) || type.ValueKind != JsonValueKind.String)
                throw Bad(path, "has no peft_type (a PEFT adapter config names its method, e.g. \"peft_type\": \"LORA\")");
            if (type.GetString() != "LORA")
                throw Bad(path, $"peft_type is '{SafeText.Name(type.GetString())}'; only LORA adapters can be imported");
            foreach (var (flag, why) in new[]
                     {
                         ("use_dora", "DoRA rescales each output column by a learned magnitude, which is not a low-rank update"),
                         ("lora_bias", "a LoRA bias adds a vector the SARA form has no place for"),
                         ("fan_in_fan_out", "the base stores the weight in x out (Conv1D); transpose the base model first"),
                     })
                if (root.TryGetProperty(flag, out var v) && v.ValueKind == JsonValueKind.True)
                    throw Bad(path, $"{flag} is true: not supported ({why})");
            if (root.TryGetProperty("bias", out var bias) && bias.ValueKind == JsonValueKind.String && bias.GetString() != "none")
                throw Bad(path, $"bias is '{SafeText.Name(bias.GetString())}': the adapter trained the base biases too; only bias \"none\" is supported");

            var config = new PeftLoraConfig
            {
                R = root.TryGetProperty("r", out var r) ? PositiveInt(path, "r", r) : 8,
                LoraAlpha = root.TryGetProperty("lora_alpha", out var a) ? FiniteNumber(path, "lora_alpha", a) : 8,
                UseRslora = root.TryGetProperty("use_rslora", out var rs) && rs.ValueKind == JsonValueKind.True,
                TargetModules = Targets(root),
                RankPattern = Pattern(path, root, "rank_pattern", (name, e) => PositiveInt(path, name, e)),
                AlphaPattern = Pattern(path, root, "alpha_pattern", (name, e) => FiniteNumber(path, name, e)),
                BaseModelNameOrPath = OptionalString(root, "base_model_name_or_path"),
                TaskType = OptionalString(root, "task_type"),
            };
            foreach (var (field, keys) in new[] { ("rank_pattern", config.RankPattern.Select(p => p.Key)), ("alpha_pattern", config.AlphaPattern.Select(p => p.Key)) })
                foreach (var key in keys)
                    if (PeftPatterns.Problem(key) is { } problem)
                        throw Bad(path, $"{field} key '{SafeText.Name(key)}' is not a regular expression this reader understands ({problem})");
            return config;
        }
    }

    private static List<KeyValuePair<string, T>> Pattern<T>(string path, JsonElement root, string field, Func<string, JsonElement, T> value)
    {
        var list = new List<KeyValuePair<string, T>>();
        if (!root.TryGetProperty(field, out var p) || p.ValueKind == JsonValueKind.Null) return list;
        if (p.ValueKind != JsonValueKind.Object) throw Bad(path, $"{field} must be an object of module pattern to value");
        foreach (var e in p.EnumerateObject()) list.Add(new(e.Name, value($"{field}['{SafeText.Name(e.Name)}']", e.Value)));
        return list;
    }

    private static List<string> Targets(JsonElement root)
    {
        if (!root.TryGetProperty("target_modules", out var t)) return [];
        return t.ValueKind switch
        {
            JsonValueKind.Array => t.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToList(),
            JsonValueKind.String => [t.GetString()!],
            _ => [],
        };
    }

    private static int PositiveInt(string path, string name, JsonElement e) =>
        e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var v) && v >= 1
            ? v : throw Bad(path, $"{name} must be a positive integer; got {SafeText.Name(e.GetRawText())}");

    private static double FiniteNumber(string path, string name, JsonElement e) =>
        e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out var v) && double.IsFinite(v)
            ? v : throw Bad(path, $"{name} must be a finite number; got {SafeText.Name(e.GetRawText())}");

    private static string? OptionalString(JsonElement root, string name) =>
        root.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;

    private static InvalidDataException Bad(string path, string problem) =>
        new(string.Create(CultureInfo.InvariantCulture, $"{SafeText.Line(path)}: {problem}"));
}
