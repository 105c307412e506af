using System.Text.Json;
using Sara.Tests.Support;

namespace Sara.Tests.Package;

/// <summary>
/// A fresh console project that references Sara.Native from the local feed (NuGet.org for everything else) and whose
/// Program.cs is one of the docs examples, copied verbatim: the README quickstart (docs/quickstart), the host trainer
/// (docs/host-trainer, unsafe code: it owns its memory) or the TorchSharp example (docs/torchsharp, which also
/// references TorchSharp; compiled only). Each is built once per test run.
/// </summary>
public sealed class QuickstartConsumer
{
    private static readonly Lazy<QuickstartConsumer> Shared = Make("quickstart", "consumer", "Quickstart");
    private static readonly Lazy<QuickstartConsumer> SharedHostTrainer = Make("host-trainer", "host-trainer", "HostTrainer");
    private static readonly Lazy<QuickstartConsumer> SharedTorchSharp = Make("torchsharp", "torchsharp", "TorchSharpInterop",
        """<PackageReference Include="TorchSharp" Version="0.107.0" />""");

    private static Lazy<QuickstartConsumer> Make(string example, string folder, string project, string extraReferences = "") => new(() =>
    {
        _ = PackedFeed.Instance;   // packs first
        return new QuickstartConsumer(example, folder, project, extraReferences);
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The README quickstart.</summary>
    public static QuickstartConsumer Instance => Shared.Value;

    /// <summary>docs/host-trainer: a trainer with its own allocator, stream and autograd on the stateless ops.</summary>
    public static QuickstartConsumer HostTrainer => SharedHostTrainer.Value;

    /// <summary>docs/torchsharp: how a TorchSharp tensor's pointer and stream reach the library (compiled, not run).</summary>
    public static QuickstartConsumer TorchSharp => SharedTorchSharp.Value;

    public static string QuickstartSource => Source("quickstart");

    public static string Source(string example) => Path.Combine(RepositoryPaths.Root, "docs", example, "Program.cs");

    private static string ConsumerFolder => Path.Combine(PackedFeed.Root, "consumer");

    public string Folder { get; }
    public TimeSpan BuildTime { get; }

    private QuickstartConsumer(string example, string folder, string project, string extraReferences)
    {
        Folder = Path.Combine(PackedFeed.Root, folder);
        Directory.CreateDirectory(Folder);
        Write(project + ".csproj", $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <AllowUnsafeBlocks>{(example == "host-trainer" ? "true" : "false")}</AllowUnsafeBlocks>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Sara.Native" Version="{PackedFeed.Version}" />
                {extraReferences}
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
        File.Copy(Source(example), Path.Combine(Folder, "Program.cs"));

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
