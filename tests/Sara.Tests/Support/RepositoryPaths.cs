using System.Reflection;

namespace Sara.Tests.Support;

/// <summary>The checkout these tests were built from (recorded at build time), and the files tests need from it.</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = typeof(RepositoryPaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "SaraRepositoryRoot").Value!;

    public static string EmulatorLibrary => Path.Combine(Root, "artifacts", "native", "libsara_emu.so");

    public static string Kernels => Path.Combine(Root, "kernels");
}
