using System.Globalization;
using System.Text.RegularExpressions;

namespace Sara.Native.Runtime;

/// <summary>
/// What ptxas reported for one function (--ptxas-options=-v). IsEntry is false for a non-inlined device
/// function, which has a stack frame and spills but no register line of its own.
/// </summary>
public sealed record KernelResourceUsage(string Function, string Arch, bool IsEntry, int Registers, int SharedBytes,
    int ConstantBytes, int StackFrameBytes, int SpillStoreBytes, int SpillLoadBytes)
{
    public int SpillBytes => SpillStoreBytes + SpillLoadBytes;
}

/// <summary>
/// Parses ptxas -v output as NVRTC puts it in the program log, e.g.
/// <code>
/// ptxas info    : Compiling entry function 'k' for 'sm_80'
/// ptxas info    : Function properties for k
/// ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
/// ptxas info    : Used 22 registers, 128 bytes smem, 372 bytes cmem[0]
/// </code>
/// (CUDA 12 inserts "used N barriers," after the register count; fields are matched one by one.)
/// </summary>
public static partial class PtxasReport
{
    public static IReadOnlyList<KernelResourceUsage> Parse(string log, string arch)
    {
        var order = new List<string>();
        var found = new Dictionary<string, Builder>(StringComparer.Ordinal);
        string? entry = null, props = null;

        Builder Get(string name)
        {
            if (!found.TryGetValue(name, out var b)) { found[name] = b = new Builder(); order.Add(name); }
            return b;
        }

        foreach (var raw in log.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (!line.StartsWith("ptxas", StringComparison.Ordinal)) continue;
            Match m;
            if ((m = EntryLine().Match(line)).Success)
            {
                entry = m.Groups[1].Value;
                Get(entry).IsEntry = true;
            }
            else if ((m = PropertiesLine().Match(line)).Success)
            {
                props = m.Groups[1].Value;
                Get(props);
            }
            else if ((m = StackLine().Match(line)).Success && props != null)
            {
                var b = Get(props);
                b.Stack = Int(m.Groups[1]);
                b.SpillStores = Int(m.Groups[2]);
                b.SpillLoads = Int(m.Groups[3]);
            }
            else if ((m = RegistersField().Match(line)).Success && entry != null)
            {
                var b = Get(entry);
                b.Registers = Int(m.Groups[1]);
                if ((m = SharedField().Match(line)).Success) b.Shared = Int(m.Groups[1]);
                if ((m = ConstantField().Match(line)).Success) b.Constant = Int(m.Groups[1]);
            }
        }
        return order.Select(n => found[n].Build(n, arch)).ToArray();
    }

    private static int Int(Group g) => int.Parse(g.Value, CultureInfo.InvariantCulture);

    private sealed class Builder
    {
        public bool IsEntry;
        public int Registers, Shared, Constant, Stack, SpillStores, SpillLoads;
        public KernelResourceUsage Build(string name, string arch) =>
            new(name, arch, IsEntry, Registers, Shared, Constant, Stack, SpillStores, SpillLoads);
    }

    [GeneratedRegex(@"Compiling entry function '([^']+)'")] private static partial Regex EntryLine();
    [GeneratedRegex(@"Function properties for (\S+)")] private static partial Regex PropertiesLine();
    [GeneratedRegex(@"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")] private static partial Regex StackLine();
    [GeneratedRegex(@"Used (\d+) registers")] private static partial Regex RegistersField();
    [GeneratedRegex(@"(\d+) bytes smem")] private static partial Regex SharedField();
    [GeneratedRegex(@"(\d+) bytes cmem\[0\]")] private static partial Regex ConstantField();
}
