// Text from files (tensor names, metadata, paths) made safe to print on a terminal, in one line, at a bounded length.
using System.Globalization;
using System.Text;

namespace Sara.Native.IO;

/// <summary>
/// Escapes what a terminal would act on and shortens what would flood it. Control characters (C0, DEL, C1), Unicode
/// format characters (bidi overrides, zero-width marks), line and paragraph separators and unpaired surrogates become
/// <c>\xNN</c> / <c>\uNNNN</c> / <c>\UNNNNNNNN</c>; text longer than the limit keeps its start and ends with <c>…(+N chars)</c>.
/// Every name read from a file goes through here before it reaches a table, an error line or a plot.
/// </summary>
public static class SafeText
{
    /// <summary>Characters kept of a name (a tensor or layer name, a metadata value).</summary>
    public const int NameLimit = 200;

    /// <summary>Characters kept of a whole message line or a path.</summary>
    public const int LineLimit = 4000;

    /// <summary>A name from a file, escaped and shortened to <see cref="NameLimit"/> characters.</summary>
    public static string Name(string? text) => Escape(text, NameLimit);

    /// <summary>A message line or path, escaped and shortened to <see cref="LineLimit"/> characters.</summary>
    public static string Line(string? text) => Escape(text, LineLimit);

    /// <summary>True when <paramref name="text"/> needs no escaping and fits in <paramref name="limit"/> characters.</summary>
    public static bool IsSafe(string text, int limit = NameLimit)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > limit) return false;
        for (int i = 0; i < text.Length; i++)
            if (NeedsEscape(text, i, out int width)) return false;
            else i += width - 1;
        return true;
    }

    /// <summary><paramref name="text"/> with unsafe characters escaped, at most about <paramref name="limit"/> characters long.</summary>
    public static string Escape(string? text, int limit)
    {
        if (text is null) return "";
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        if (IsSafe(text, limit)) return text;
        var sb = new StringBuilder(Math.Min(text.Length, limit) + 24);
        int i = 0;
        while (i < text.Length && sb.Length < limit)
        {
            if (NeedsEscape(text, i, out int width))
                sb.Append(width == 2 ? $"\\U{char.ConvertToUtf32(text[i], text[i + 1]):x8}"
                    : text[i] < 0x80 ? $"\\x{(int)text[i]:x2}" : $"\\u{(int)text[i]:x4}");
            else
                sb.Append(text, i, width);
            i += width;
        }
        if (i < text.Length)
            sb.Append(CultureInfo.InvariantCulture, $"…(+{text.Length - i:N0} chars)");
        return sb.ToString();
    }

    /// <summary>Whether the character at <paramref name="i"/> must be escaped; <paramref name="width"/> is 2 for a valid surrogate pair.</summary>
    private static bool NeedsEscape(string text, int i, out int width)
    {
        char c = text[i];
        width = 1;
        if (char.IsHighSurrogate(c))
        {
            if (i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                width = 2;
                var category = CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(c, text[i + 1]));
                return category is UnicodeCategory.Format;
            }
            return true;
        }
        if (char.IsLowSurrogate(c)) return true;
        if (char.IsControl(c)) return true;
        return CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.LineSeparator
            or UnicodeCategory.ParagraphSeparator;
    }
}
