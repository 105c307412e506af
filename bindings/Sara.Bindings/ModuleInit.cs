using System.Runtime.CompilerServices;

namespace Sara.Bindings;

internal static class ModuleInit
{
#pragma warning disable CA2255 // The resolver must be in place before the first P/Invoke of this assembly.
    [ModuleInitializer]
    internal static void Init() => NativeLibraries.EnsureRegistered();
#pragma warning restore CA2255
}
