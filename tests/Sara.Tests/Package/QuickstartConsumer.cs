using System.Text.Json;
using Sara.Tests.Support;

namespace Sara.Tests.Package;

/// <summary>
/// A fresh console project that references Sara.Native from the local feed (NuGet.org for everything else) and whose
/// Program.cs is the README quickstart, docs/quickstart/Program.cs, copied verbatim. Built once per test run.
/// </summary>
public sealed class QuickstartConsumer
{
    private static readonly Lazy<QuickstartConsumer> Shared = new(() =>
    {
        _ = PackedFeed.Instance;   // packs first
        return new QuickstartConsumer();
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    public static QuickstartConsumer Instance => Shared.Value;

    public static string QuickstartSource => Path.Combine(RepositoryPaths.Root, "docs", "quickstart", "Program.cs");

    private static string ConsumerFolder => Path.Combine(PackedFeed.Root, "consumer");

    public string Folder { get; }
    public TimeSpan BuildTime { get; }

    private QuickstartConsumer()
    {
        Folder = ConsumerFolder;
        Directory.CreateDirectory(Folder);
        Write("Quickstart.csproj", $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Sara.Native" Version="{PackedFeed.Version}" />
              </ItemGroup>
            </Project>
            """);
        // Sara.* come only from the local feed (never a same-named package from elsewhere); the rest from NuGet.org.
        Write("nuget.config", $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{PackedFeed.Feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="local"><package pattern="Sara.*" /></packageSource>
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        // Stop MSBuild's upward search: no Directory.Build.* of whatever folder holds the temp dir applies.
        Write("Directory.Build.props", "<Project />");
        Write("Directory.Build.targets", "<Project />");
        Write("Directory.Packages.props", "<Project />");
        File.Copy(QuickstartSource, Path.Combine(Folder, "Program.cs"));

        var r = DotNetCli.RunOk(Folder, ["build", "-c", "Release", "-nodeReuse:false"], TimeSpan.FromMinutes(4));
        BuildTime = r.Elapsed;
    }

    /// <summary>`dotnet run --no-build` of the quickstart with extra environment variables (SARA_DEVICE is never inherited).</summary>
    public CliResult Run(IReadOnlyDictionary<string, string>? environment = null) =>
        DotNetCli.Run(Folder, ["run", "--no-build", "-c", "Release"], TimeSpan.FromMinutes(2), environment);

    private void Write(string name, string text) => File.WriteAllText(Path.Combine(Folder, name), text);

    /// <summary>The NuGet global packages folder a consumer's restore used (from its obj/project.assets.json), if it got that far.</summary>
    public static string? GlobalPackagesFolder()
    {
        var assetsFile = Path.Combine(ConsumerFolder, "obj", "project.assets.json");
        if (!File.Exists(assetsFile)) return null;
        using var doc = JsonDocument.Parse(File.ReadAllText(assetsFile));
        return doc.RootElement.TryGetProperty("packageFolders", out var folders)
            ? folders.EnumerateObject().Select(f => f.Name).FirstOrDefault()
            : null;
    }
}
