using Sara.Tests.Support;

namespace Sara.Tests.Package;

/// <summary>
/// Sara.Bindings and Sara.Native packed (Release) from this checkout into a local folder feed, once per test run.
/// The version is a unique prerelease (0.1.0-test.&lt;ticks&gt;) so no NuGet cache can serve a stale copy; bin/obj go to a
/// temp folder (SARA_ARTIFACTS) so the checkout's own build outputs are not touched. <see cref="Delete"/> removes it all.
/// </summary>
public sealed class PackedFeed
{
    private static readonly Lazy<PackedFeed> Shared = new(() => new PackedFeed(), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The packed feed (packs on first use; a failed pack fails every test that needs it).</summary>
    public static PackedFeed Instance => Shared.Value;

    /// <summary>This test run's temp folder (feed, bin/obj, consumer) and package version.</summary>
    public static string Root { get; } = Path.Combine(Path.GetTempPath(), "sara-package-test-" + Guid.NewGuid().ToString("N")[..12]);
    public static string Version { get; } = $"0.1.0-test.{DateTime.UtcNow.Ticks}";
    public static string Feed => Path.Combine(Root, "feed");
    public TimeSpan PackTime { get; }

    public static string PackagePath(string id) => Path.Combine(Feed, $"{id}.{Version}.nupkg");

    private PackedFeed()
    {
        Directory.CreateDirectory(Feed);
        // One pack of both projects: a throwaway solution file listing the two packable projects.
        var solution = Path.Combine(Root, "packages.slnx");
        File.WriteAllText(solution, $"""
            <Solution>
              <Project Path="{Path.Combine(RepositoryPaths.Root, "bindings", "Sara.Bindings", "Sara.Bindings.csproj")}" />
              <Project Path="{Path.Combine(RepositoryPaths.Root, "src", "Sara.Native", "Sara.Native.csproj")}" />
            </Solution>
            """);
        var r = DotNetCli.RunOk(Root,
            ["pack", solution, "-c", "Release", "-o", Feed, $"-p:Version={Version}", "-nodeReuse:false"],
            TimeSpan.FromMinutes(5),
            new Dictionary<string, string> { ["SARA_ARTIFACTS"] = Path.Combine(Root, "artifacts") });
        PackTime = r.Elapsed;
        foreach (var id in new[] { "Sara.Bindings", "Sara.Native" })
            Assert.That(PackagePath(id), Does.Exist, $"{id} package missing after pack:\n{r.Output}");
    }

    /// <summary>Removes the temp folder and this version's extracted copies from the NuGet global packages folder.</summary>
    public static void Delete(string? globalPackagesFolder)
    {
        if (globalPackagesFolder != null)
            foreach (var id in new[] { "sara.native", "sara.bindings" })
            {
                var dir = Path.Combine(globalPackagesFolder, id, Version.ToLowerInvariant());
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
                var parent = Path.GetDirectoryName(dir)!;
                if (Directory.Exists(parent) && !Directory.EnumerateFileSystemEntries(parent).Any()) Directory.Delete(parent);
            }
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }
}
