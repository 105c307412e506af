// Source-generated JSON for the adapter's "layers" metadata (trim-safe, no reflection).
using System.Text.Json.Serialization;

namespace Sara.Native.IO;

[JsonSerializable(typeof(Dictionary<string, Dictionary<string, int>>))]
internal sealed partial class AdapterJsonContext : JsonSerializerContext;
