// SARA / Mo-SARA adapter checkpoints: a safetensors file with "sara-adapter" metadata and per-layer tensors.
using System.Globalization;
using System.Text.Json;

namespace Sara.Native.IO;

/// <summary>
/// An adapter in memory: <see cref="Metadata"/> plus one <see cref="AdapterLayer"/> per adapted layer.
/// On disk it is a .safetensors file whose <c>__metadata__</c> holds format, format_version, method,
/// criterion, tau, scale, experts, library_version and layers (JSON: name to {k, m, n}); tensors are
/// named "&lt;layer&gt;.&lt;key&gt;" (see <see cref="AdapterLayer"/>).
/// </summary>
public sealed class AdapterFile
{
    public const string FormatName = "sara-adapter";

    private readonly List<AdapterLayer> _layers = new();
    private readonly Dictionary<string, AdapterLayer> _byName = new(StringComparer.Ordinal);

    public AdapterMetadata Metadata { get; }

    /// <summary>Layers in the order added (and saved).</summary>
    public IReadOnlyList<AdapterLayer> Layers => _layers;

    public AdapterFile(AdapterMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        metadata.Validate();
        Metadata = metadata;
    }

    public AdapterLayer this[string layerName] => _byName.TryGetValue(layerName, out var l)
        ? l : throw new KeyNotFoundException($"the adapter has no layer '{layerName}'");

    /// <summary>Adds a layer; its tensors must be exactly those the method needs, with the right shapes.</summary>
    public AdapterFile AddLayer(AdapterLayer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (_byName.ContainsKey(layer.Name))
            throw new ArgumentException($"layer '{layer.Name}' was already added", nameof(layer));
        var problems = layer.Problems(Metadata.Method, Metadata.Experts).ToList();
        if (problems.Count > 0)
            throw new ArgumentException($"layer '{layer.Name}' is not a valid {AdapterMethods.ToText(Metadata.Method)} layer: {string.Join("; ", problems)}", nameof(layer));
        _layers.Add(layer);
        _byName.Add(layer.Name, layer);
        return this;
    }

    /// <summary>Writes the adapter atomically; tensors are stored as <paramref name="dtype"/> (F32, F16 or BF16).</summary>
    public void Save(string path, SafetensorsDType dtype = SafetensorsDType.F32) =>
        Write(path, Metadata, _layers.Select(l => (l.Name, l.K, l.M, l.N)).ToList(),
            (layer, key) => _byName[layer].Tensors[key].Data, dtype);

    /// <summary>
    /// Writes an adapter whose tensors are produced one at a time during the write (so a large adapter streams from
    /// per-layer files without being held in memory): the same file <see cref="Save"/> writes for those layers, plus
    /// <paramref name="extraMetadata"/> (keys other than the adapter's own; <see cref="Load"/> ignores them).
    /// <paramref name="tensor"/>(layer, key) must return the data of each tensor <see cref="AdapterLayer.RequiredShapes"/>
    /// lists. Atomic: an exception, or a process killed half-way, leaves no file at <paramref name="path"/>.
    /// </summary>
    public static void Write(string path, AdapterMetadata metadata, IReadOnlyList<(string Name, int K, int M, int N)> layers,
        Func<string, string, ReadOnlyMemory<float>> tensor, SafetensorsDType dtype = SafetensorsDType.F32,
        IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(tensor);
        metadata.Validate();
        var writer = new SafetensorsWriter();
        foreach (var (k, v) in MetadataEntries(metadata, layers)) writer.Metadata[k] = v;
        foreach (var (k, v) in extraMetadata ?? new Dictionary<string, string>())
        {
            if (writer.Metadata.ContainsKey(k)) throw new ArgumentException($"metadata key '{k}' belongs to the adapter format", nameof(extraMetadata));
            writer.Metadata[k] = v;
        }
        foreach (var (name, k, m, n) in layers)
            foreach (var (key, shape) in AdapterLayer.RequiredShapes(metadata.Method, k, m, n, metadata.Experts))
            {
                var (layer, part) = (name, key);
                writer.AddLazy($"{name}.{key}", dtype, shape.Select(d => (long)d).ToArray(), () => tensor(layer, part));
            }
        writer.Save(path);
    }

    private static IEnumerable<(string, string)> MetadataEntries(AdapterMetadata m, IReadOnlyList<(string Name, int K, int M, int N)> layerList)
    {
        yield return ("format", FormatName);
        yield return ("format_version", m.FormatVersion.ToString(CultureInfo.InvariantCulture));
        yield return ("method", AdapterMethods.ToText(m.Method));
        yield return ("criterion", m.Criterion);
        yield return ("tau", m.Tau.ToString("R", CultureInfo.InvariantCulture));
        yield return ("scale", m.Scale.ToString("R", CultureInfo.InvariantCulture));
        yield return ("experts", m.Experts.ToString(CultureInfo.InvariantCulture));
        yield return ("library_version", m.LibraryVersion);
        var layers = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        foreach (var l in layerList)
        {
            if (layers.ContainsKey(l.Name)) throw new ArgumentException($"layer '{l.Name}' appears twice", nameof(layerList));
            layers[l.Name] = new() { ["k"] = l.K, ["m"] = l.M, ["n"] = l.N };
        }
        yield return ("layers", JsonSerializer.Serialize(layers, AdapterJsonContext.Default.DictionaryStringDictionaryStringInt32));
    }

    /// <summary>Reads and checks an adapter file; every problem is a <see cref="SafetensorsFormatException"/>.</summary>
    public static AdapterFile Load(string path)
    {
        using var file = SafetensorsFile.Open(path);
        var metadata = AdapterFileReader.ReadMetadata(file);
        var adapter = new AdapterFile(metadata);
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, k, m, n) in AdapterFileReader.ReadLayers(file))
        {
            var tensors = new Dictionary<string, AdapterTensor>(StringComparer.Ordinal);
            foreach (var (key, shape) in AdapterLayer.RequiredShapes(metadata.Method, k, m, n, metadata.Experts))
            {
                string tensorName = $"{name}.{key}";
                tensors[key] = AdapterFileReader.ReadTensor(file, tensorName, shape);
                claimed.Add(tensorName);
            }
            adapter.AddLayer(new AdapterLayer(name, k, m, n, tensors));
        }
        var stray = file.Tensors.FirstOrDefault(t => !claimed.Contains(t.Name));
        if (stray is not null)
            throw new SafetensorsFormatException(file.Path, stray.Name, "tensor belongs to no layer listed in the 'layers' metadata");
        return adapter;
    }

    /// <summary>
    /// Checks the adapter against the base model's layer shapes (rows = m = out, cols = n = in). Throws one
    /// <see cref="AdapterMismatchException"/> listing every extra layer (not in the base), every shape that
    /// differs and, unless <paramref name="allowUnadaptedBaseLayers"/>, every base layer the adapter lacks.
    /// </summary>
    public void ValidateAgainstBase(IReadOnlyDictionary<string, (int Rows, int Cols)> baseShapes, bool allowUnadaptedBaseLayers = false)
    {
        ArgumentNullException.ThrowIfNull(baseShapes);
        var problems = new List<string>();
        foreach (var layer in _layers)
        {
            if (!baseShapes.TryGetValue(layer.Name, out var shape))
                problems.Add($"extra layer '{layer.Name}' ({layer.M} x {layer.N}): the base model has no such layer");
            else if (shape.Rows != layer.M || shape.Cols != layer.N)
                problems.Add($"layer '{layer.Name}': shape differs: expected {shape.Rows} x {shape.Cols} (base), got {layer.M} x {layer.N} (adapter)");
        }
        if (!allowUnadaptedBaseLayers)
            foreach (var (name, shape) in baseShapes.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                if (!_byName.ContainsKey(name))
                    problems.Add($"missing layer '{name}' ({shape.Rows} x {shape.Cols}): in the base model but not in the adapter");
        if (problems.Count > 0) throw new AdapterMismatchException(nameof(baseShapes), problems);
    }
}
