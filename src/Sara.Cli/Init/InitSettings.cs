using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Sara.Native.IO;
using Sara.Native.Layers;
using Sara.Native.Svd;

namespace Sara.Cli.Init;

/// <summary>One selected layer: its adapter name (the module), the stored tensor, the matrix shape.</summary>
internal sealed record InitLayer(string Name, string Stored, int Rows, int Cols)
{
    /// <summary>Work estimate for splitting: the truncated SVD's passes over W cost about m n times a fixed width.</summary>
    public long Cost => (long)Rows * Cols;
}

/// <summary>
/// Everything that decides the bits of an initialisation: the checkpoint's selected layers (names and shapes), the
/// method, the rank options, the seed and the library version. Its canonical JSON is stored in every per-layer file,
/// part file and adapter (metadata "sara_init"); `--resume` and `--combine` accept only files with the same settings.
/// </summary>
internal sealed record InitSettings(string Checkpoint, IReadOnlyList<InitLayer> Layers, AdapterMethod Method, int Experts,
    RankOptions Rank, string Selection)
{
    public const string Format = "sara-init";
    public const int Version = 1;

    /// <summary>Mo-SARA router initialisation: MoSaraLinear.FromPretrained's defaults (MoSaraOptions).</summary>
    public static readonly MoSaraOptions Router = new();

    public string ToJson()
    {
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms))
        {
            j.WriteStartObject();
            j.WriteString("format", Format);
            j.WriteNumber("version", Version);
            j.WriteString("library", AdapterMetadata.CurrentLibraryVersion);
            j.WriteString("checkpoint", Checkpoint);
            j.WriteString("method", AdapterMethods.ToText(Method));
            j.WriteNumber("experts", Experts);
            j.WriteString("criterion", Rank.Criterion.ToString());
            j.WriteNumber("tau", Rank.Tau);
            j.WriteNumber("kMin", Rank.KMin);
            j.WriteNumber("kMax", Rank.KMax);
            j.WriteString("spectrum", Rank.Spectrum.ToString());
            j.WriteNumber("seed", Rank.Seed);
            j.WriteNumber("blockSize", Rank.Krylov.BlockSize);
            j.WriteNumber("oversampling", Rank.Krylov.Oversampling);
            j.WriteNumber("probes", Rank.Krylov.Probes);
            j.WriteNumber("lanczosSteps", Rank.Krylov.LanczosSteps);
            j.WriteString("selection", Selection);
            j.WriteStartArray("layers");
            foreach (var l in Layers)
            {
                j.WriteStartArray();
                j.WriteStringValue(l.Name);
                j.WriteStringValue(l.Stored);
                j.WriteNumberValue(l.Rows);
                j.WriteNumberValue(l.Cols);
                j.WriteEndArray();
            }
            j.WriteEndArray();
            j.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>The first 16 hex digits of the SHA-256 of <see cref="ToJson"/>.</summary>
    public string Fingerprint => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ToJson())))[..16];

    /// <summary>The adapter metadata every output of these settings carries.</summary>
    public AdapterMetadata AdapterMetadata => AdapterMetadata.Create(Method, Rank.Criterion.ToString(), Rank.Tau, 1.0,
        Method == AdapterMethod.MoSara ? Experts : 0);

    /// <summary>The layer names listed in a settings JSON (for combine's messages), in order.</summary>
    public static List<string> LayerNames(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("layers").EnumerateArray().Select(e => e[0].GetString()!).ToList();
    }
}
