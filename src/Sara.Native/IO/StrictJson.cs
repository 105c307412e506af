// JSON as the checkpoint formats mean it: one value per key, and strings that are real text.
using System.Text.Json;

namespace Sara.Native.IO;

/// <summary>
/// A pass over JSON text before it is parsed for meaning: refuses a key repeated inside one object (System.Text.Json
/// would keep one of them silently) and a string or key that does not decode to valid UTF-16 (a lone surrogate escape
/// such as <c>\ud800</c>), besides malformed JSON. Used for safetensors headers, adapter metadata and shard indexes.
/// </summary>
public static class StrictJson
{
    /// <summary>What is wrong (<see cref="Problem"/>), the key involved (null when none) and the keys of the objects around it, outermost first.</summary>
    public sealed record Fault(string Problem, string? Key, IReadOnlyList<string> ObjectPath)
    {
        /// <summary>The problem with its place, sanitised for printing.</summary>
        public override string ToString() => ObjectPath.Count == 0
            ? Problem
            : $"{Problem} in '{string.Join("' > '", ObjectPath.Select(SafeText.Name))}'";
    }

    /// <summary>Null when <paramref name="utf8"/> is strict JSON; otherwise the first fault.</summary>
    public static Fault? Check(ReadOnlySpan<byte> utf8, int maxDepth = 64)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = maxDepth });
        var keys = new Stack<HashSet<string>>();
        var path = new List<string>(); // the key (or "[]" inside an array) of every open container but the root
        int depth = 0;
        string? pendingKey = null;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        if (depth++ > 0) path.Add(pendingKey ?? "[]");
                        if (reader.TokenType == JsonTokenType.StartObject) keys.Push(new HashSet<string>(StringComparer.Ordinal));
                        pendingKey = null;
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        if (reader.TokenType == JsonTokenType.EndObject) keys.Pop();
                        if (--depth > 0) path.RemoveAt(path.Count - 1);
                        pendingKey = null;
                        break;
                    case JsonTokenType.PropertyName:
                        string? key = Text(ref reader);
                        if (key is null) return new Fault("a key is not valid text (an unpaired surrogate escape)", null, path.ToList());
                        if (!keys.Peek().Add(key)) return new Fault($"duplicate key '{SafeText.Name(key)}'", key, path.ToList());
                        pendingKey = key;
                        break;
                    case JsonTokenType.String:
                        if (Text(ref reader) is null)
                            return new Fault($"the value of '{SafeText.Name(pendingKey ?? "[]")}' is not valid text (an unpaired surrogate escape)",
                                pendingKey, path.ToList());
                        pendingKey = null;
                        break;
                    default:
                        pendingKey = null;
                        break;
                }
            }
        }
        catch (JsonException e)
        {
            return new Fault($"not valid JSON ({e.Message})", null, path.ToList());
        }
        return null;
    }

    private static string? Text(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
