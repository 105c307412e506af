namespace Sara.Bindings;

/// <summary>A native call returned a failure status; the message names the call and the status's name.</summary>
public sealed class NativeCallException : Exception
{
    public NativeCallException(string call, string statusName, int code, string? detail = null)
        : base($"{call} failed: {statusName}" + (detail is null ? "" : $" ({detail})"))
    {
        Call = call;
        StatusName = statusName;
        Code = code;
    }

    public string Call { get; }
    public string StatusName { get; }
    public int Code { get; }
}
