using Sara.Tests.Support;

namespace Sara.Tests.Package;

/// <summary>
/// What `dotnet pack` puts in Sara.Native / Sara.Bindings: metadata and readme that declare the native requirements,
/// the kernel sources (and nvcc fatbins, when built) embedded byte for byte, and one native binary: the CUDA emulator
/// (runtimes/linux-x64/native/libsara_emu.so, the build's own), so a consumer can select "emu".
/// </summary>
[TestFixture]
[Category("Package")]
[NonParallelizable]
public sealed class PackageContentsTests
{
    private const string NativeAssembly = "lib/net10.0/Sara.Native.dll";

    // What a consumer's machine may need, as the readme and description must name it (the resolver's first sonames).
    private static readonly string[] Requirements =
        ["libcuda.so.1", "cuBLAS", "cuSOLVER", "NVRTC", "libopenblas.so.0", "liblapacke.so.3"];

    private static PackageFile Native => new(PackedFeed.PackagePath("Sara.Native"));
    private static PackageFile Bindings => new(PackedFeed.PackagePath("Sara.Bindings"));

    [OneTimeSetUp]
    public void Pack() => TestContext.Progress.WriteLine($"[package] packed {PackedFeed.Version} into {PackedFeed.Feed} " +
                                                          $"in {PackedFeed.Instance.PackTime.TotalSeconds:F1} s");

    [TestCase("Sara.Native")]
    [TestCase("Sara.Bindings")]
    public void Metadata_names_the_package_its_licence_and_readme(string id)
    {
        var p = id == "Sara.Native" ? Native : Bindings;
        Assert.That(p.Metadata("id"), Is.EqualTo(id));
        Assert.That(p.Metadata("version"), Is.EqualTo(PackedFeed.Version));
        var license = p.MetadataElement("license");
        Assert.That(license?.Value, Is.EqualTo("MIT"));
        Assert.That((string?)license?.Attribute("type"), Is.EqualTo("expression"));
        Assert.That(p.Metadata("readme"), Is.EqualTo("PACKAGE.md"));
        Assert.That(p.Metadata("tags"), Does.Contain("cuda"));
        var readme = Path.Combine(RepositoryPaths.Root, "src", "Sara.Native", "PACKAGE.md");
        Assert.That(p.Entries["PACKAGE.md"], Is.EqualTo(File.ReadAllBytes(readme)), "the packed readme is src/Sara.Native/PACKAGE.md");
        Assert.That(p.Entries.Keys, Has.Member($"lib/net10.0/{id}.dll"));
    }

    [Test]
    public void Sara_native_depends_on_the_same_version_of_sara_bindings()
    {
        Assert.That(Native.Dependencies, Does.ContainKey("Sara.Bindings"));
        Assert.That(Native.Dependencies["Sara.Bindings"], Is.EqualTo(PackedFeed.Version));
    }

    [Test]
    public void Description_and_readme_declare_what_the_consumers_machine_needs()
    {
        var description = Native.Metadata("description")!;
        var readme = System.Text.Encoding.UTF8.GetString(Native.Entries["PACKAGE.md"]);
        foreach (var need in Requirements)
        {
            Assert.That(description, Does.Contain(need), $"description names {need}");
            Assert.That(readme, Does.Contain(need), $"readme names {need}");
        }
        // The Debian packages the resolver's messages tell people to install, and the override switch.
        Assert.That(readme, Does.Contain("libopenblas0").And.Contain("liblapacke").And.Contain("SARA_NATIVE_OVERRIDE_"));
        Assert.That(readme, Does.Contain("NativeLibraryMissingException"));
    }

    [Test]
    public void The_readme_code_lines_come_from_the_compiled_quickstart()
    {
        var readme = System.Text.Encoding.UTF8.GetString(Native.Entries["PACKAGE.md"]).Replace("\r\n", "\n");
        var start = readme.IndexOf("```csharp\n", StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThanOrEqualTo(0), "the readme shows C#");
        var end = readme.IndexOf("```", start + 10, StringComparison.Ordinal);
        var quickstart = File.ReadAllLines(QuickstartConsumer.QuickstartSource).Select(l => l.Trim()).ToHashSet();
        var code = readme[(start + 10)..end].Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("//", StringComparison.Ordinal));
        Assert.That(code, Is.Not.Empty.And.All.Matches<string>(quickstart.Contains), "each readme line is a line of docs/quickstart/Program.cs");
    }

    [Test]
    public void The_assembly_embeds_every_kernel_source_byte_for_byte()
    {
        var resources = Native.EmbeddedResources(NativeAssembly);
        var sources = Directory.GetFiles(RepositoryPaths.Kernels, "*.cu").Concat(Directory.GetFiles(RepositoryPaths.Kernels, "*.cuh")).ToArray();
        Assert.That(sources, Is.Not.Empty, "kernels/*.cu in the checkout");
        foreach (var file in sources)
        {
            var name = "kernels/" + Path.GetFileName(file);
            Assert.That(resources, Does.ContainKey(name), $"{name} embedded in {NativeAssembly}");
            Assert.That(resources[name], Is.EqualTo(File.ReadAllBytes(file)), $"{name} is the checkout's file");
        }
        var embeddedSources = resources.Keys.Where(k => k.EndsWith(".cu", StringComparison.Ordinal) || k.EndsWith(".cuh", StringComparison.Ordinal));
        Assert.That(embeddedSources, Is.EquivalentTo(sources.Select(f => "kernels/" + Path.GetFileName(f))), "no stray kernel sources");
    }

    [Test]
    public void The_assembly_embeds_the_nvcc_fatbins_exactly_when_they_were_built()
    {
        var resources = Native.EmbeddedResources(NativeAssembly);
        var dir = Path.Combine(RepositoryPaths.Root, "artifacts", "kernels");
        var built = Directory.Exists(dir) ? Directory.GetFiles(dir, "*.fatbin") : [];
        var embedded = resources.Keys.Where(k => k.EndsWith(".fatbin", StringComparison.Ordinal)).ToArray();
        TestContext.Out.WriteLine(built.Length == 0 ? "no nvcc fatbins in this checkout: the package carries sources only (NVRTC)"
                                                    : $"fatbins: {string.Join(", ", embedded)}");
        Assert.That(embedded, Is.EquivalentTo(built.Select(f => "kernels/" + Path.GetFileName(f))));
        foreach (var f in built) Assert.That(resources["kernels/" + Path.GetFileName(f)], Is.EqualTo(File.ReadAllBytes(f)));
    }

    [TestCase("Sara.Native")]
    [TestCase("Sara.Bindings")]
    public void The_only_native_binary_is_the_emulator_in_sara_native(string id)
    {
        var p = id == "Sara.Native" ? Native : Bindings;
        var native = p.Entries.Keys.Where(e => e.EndsWith(".so", StringComparison.Ordinal) || e.Contains(".so.") || e.StartsWith("runtimes/", StringComparison.Ordinal));
        Assert.That(native, Is.EqualTo(id == "Sara.Native" ? new[] { EmulatorEntry } : Array.Empty<string>()),
            "the CUDA, BLAS and LAPACK libraries come from the machine; only the emulator ships");
        Assert.That(p.Entries.Keys.Where(e => e.EndsWith(".dll", StringComparison.Ordinal)), Is.EqualTo(new[] { $"lib/net10.0/{id}.dll" }));
    }

    [Test]
    public void The_packed_emulator_is_the_one_this_checkout_built()
    {
        var built = Path.Combine(RepositoryPaths.Root, "artifacts", "native", "libsara_emu.so");
        Assert.That(built, Does.Exist, "the emulator is built before the package (cake Build/Emulator)");
        Assert.That(Native.Entries[EmulatorEntry], Is.EqualTo(File.ReadAllBytes(built)));
        var readme = System.Text.Encoding.UTF8.GetString(Native.Entries["PACKAGE.md"]);
        Assert.That(readme, Does.Contain("libsara_emu.so").And.Contain("runtimes/linux-x64/native"), "the readme says the emulator ships");
    }

    private const string EmulatorEntry = "runtimes/linux-x64/native/libsara_emu.so";
}
