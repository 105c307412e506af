// Which adapter an adapter file holds, and its name in the file's metadata.
namespace Sara.Native.IO;

/// <summary>SARA (one singular-value vector) or Mo-SARA (a mixture of singular-value experts).</summary>
public enum AdapterMethod
{
    Sara,
    MoSara,
}

/// <summary>Metadata names of <see cref="AdapterMethod"/>: "sara" and "mo-sara".</summary>
public static class AdapterMethods
{
    public static string ToText(AdapterMethod method) => method switch
    {
        AdapterMethod.Sara => "sara",
        AdapterMethod.MoSara => "mo-sara",
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "unknown adapter method"),
    };

    public static bool TryParse(string? text, out AdapterMethod method)
    {
        method = text == "mo-sara" ? AdapterMethod.MoSara : AdapterMethod.Sara;
        return text is "sara" or "mo-sara";
    }
}
