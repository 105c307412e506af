// Parsing helpers for AdapterFile.Load: metadata keys, the layers table, and shape-checked tensors.
using System.Globalization;
using System.Text.Json;

namespace Sara.Native.IO;

internal static class AdapterFileReader
{
    public static AdapterMetadata ReadMetadata(SafetensorsFile file)
    {
        string Get(string key) => file.Metadata.TryGetValue(key, out var v)
            ? v : throw Bad(file, $"metadata key '{key}' is missing");

        if (!file.Metadata.TryGetValue("format", out var format) || format != AdapterFile.FormatName)
            throw Bad(file, $"not a SARA adapter: metadata 'format' is {(format is null ? "absent" : $"'{SafeText.Name(format)}'")}, expected '{AdapterFile.FormatName}'");
        int version = ParseInt(file, "format_version", Get("format_version"));
        if (version < 1 || version > AdapterMetadata.CurrentFormatVersion)
            throw Bad(file, $"format_version {version} is not supported (this library reads 1..{AdapterMetadata.CurrentFormatVersion})");
        string methodText = Get("method");
        if (!AdapterMethods.TryParse(methodText, out var method))
            throw Bad(file, $"method '{SafeText.Name(methodText)}' is unknown (expected 'sara' or 'mo-sara')");
        var metadata = new AdapterMetadata(method, Get("criterion"), ParseDouble(file, "tau", Get("tau")),
            ParseDouble(file, "scale", Get("scale")), ParseInt(file, "experts", Get("experts")), Get("library_version"), version);
        try
        {
            metadata.Validate();
        }
        catch (ArgumentException e)
        {
            throw new SafetensorsFormatException(file.Path, null, $"adapter metadata is invalid: {e.Message}", e);
        }
        return metadata;
    }

    public static List<(string Name, int K, int M, int N)> ReadLayers(SafetensorsFile file)
    {
        if (!file.Metadata.TryGetValue("layers", out var text)) throw Bad(file, "metadata key 'layers' is missing");
        if (StrictJson.Check(System.Text.Encoding.UTF8.GetBytes(text)) is { } fault)
            throw Bad(file, $"metadata 'layers' is not a JSON object of {{k, m, n}}: {fault}");
        Dictionary<string, Dictionary<string, int>>? table;
        try
        {
            table = JsonSerializer.Deserialize(text, AdapterJsonContext.Default.DictionaryStringDictionaryStringInt32);
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(file.Path, null, $"metadata 'layers' is not a JSON object of {{k, m, n}} ({e.Message})", e);
        }
        if (table is null) throw Bad(file, "metadata 'layers' is null");
        var layers = new List<(string, int, int, int)>();
        foreach (var (name, dims) in table)
        {
            int Dim(string key) => dims is not null && dims.TryGetValue(key, out int v) && v >= 1
                ? v : throw Bad(file, $"layer '{SafeText.Name(name)}' in metadata 'layers' needs a positive '{key}'");
            int k = Dim("k"), m = Dim("m"), n = Dim("n");
            if (string.IsNullOrEmpty(name)) throw Bad(file, "metadata 'layers' has a layer with an empty name");
            if (k > Math.Min(m, n)) throw Bad(file, $"layer '{SafeText.Name(name)}' has rank k = {k} above min(m, n) = {Math.Min(m, n)}");
            layers.Add((name, k, m, n));
        }
        return layers;
    }

    public static AdapterTensor ReadTensor(SafetensorsFile file, string tensorName, int[] shape)
    {
        if (!file.Contains(tensorName))
            throw new SafetensorsFormatException(file.Path, tensorName, "tensor is missing (its layer is listed in 'layers')");
        var info = file.GetInfo(tensorName);
        if (!info.Shape.SequenceEqual(shape.Select(d => (long)d)))
            throw new SafetensorsFormatException(file.Path, tensorName, $"shape {info.ShapeText} differs from the [{string.Join(", ", shape)}] that 'layers' implies");
        if (!SafetensorsDTypes.IsReadableAsFloat(info.DType))
            throw new SafetensorsFormatException(file.Path, tensorName, $"dtype {SafetensorsDTypes.ToHeaderName(info.DType)} is not a float type");
        return new AdapterTensor(shape, file.ReadFloats(tensorName));
    }

    /// <summary>A whole number written as the writer writes it: digits only, no sign, spaces or leading zeros.</summary>
    private static int ParseInt(SafetensorsFile file, string key, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v.ToString(CultureInfo.InvariantCulture) == text
            ? v : throw Bad(file, $"metadata '{key}' = '{SafeText.Name(text)}' is not an integer written plainly (digits only)");

    /// <summary>A finite decimal number: optional sign, digits, point, exponent; no spaces, thousands separators, NaN or infinity.</summary>
    private static double ParseDouble(SafetensorsFile file, string key, string text) =>
        double.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
            CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)
            ? v : throw Bad(file, $"metadata '{key}' = '{SafeText.Name(text)}' is not a finite decimal number");

    private static SafetensorsFormatException Bad(SafetensorsFile file, string problem) => new(file.Path, null, problem);
}
