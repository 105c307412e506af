using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;

namespace Sara.Tests.Package;

/// <summary>Reads a .nupkg as a consumer's NuGet sees it: its entries, its nuspec, and an assembly's embedded resources.</summary>
public sealed class PackageFile
{
    public PackageFile(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        Entries = zip.Entries.ToDictionary(e => e.FullName, e =>
        {
            using var s = e.Open();
            using var m = new MemoryStream();
            s.CopyTo(m);
            return m.ToArray();
        });
        var nuspec = Entries.Single(e => e.Key.EndsWith(".nuspec", StringComparison.Ordinal) && !e.Key.Contains('/'));
        Nuspec = XDocument.Load(new MemoryStream(nuspec.Value));
    }

    public IReadOnlyDictionary<string, byte[]> Entries { get; }
    public XDocument Nuspec { get; }

    /// <summary>The text of a nuspec metadata element (namespace-agnostic), or null.</summary>
    public string? Metadata(string element) =>
        Nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == element && e.Parent?.Name.LocalName == "metadata")?.Value;

    public XElement? MetadataElement(string element) =>
        Nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == element && e.Parent?.Name.LocalName == "metadata");

    /// <summary>Package dependencies (id to version range) for every target framework group.</summary>
    public IReadOnlyDictionary<string, string> Dependencies =>
        Nuspec.Descendants().Where(e => e.Name.LocalName == "dependency")
            .ToDictionary(e => (string)e.Attribute("id")!, e => (string)e.Attribute("version")!);

    /// <summary>The embedded (manifest) resources of an assembly inside the package, read from its metadata without loading it.</summary>
    public IReadOnlyDictionary<string, byte[]> EmbeddedResources(string assemblyEntry)
    {
        using var pe = new PEReader(new MemoryStream(Entries[assemblyEntry]));
        var md = pe.GetMetadataReader();
        var resources = pe.PEHeaders.CorHeader!.ResourcesDirectory;
        var result = new Dictionary<string, byte[]>();
        foreach (var handle in md.ManifestResources)
        {
            var r = md.GetManifestResource(handle);
            if (!r.Implementation.IsNil) continue;   // linked or in another assembly: not embedded
            var block = pe.GetSectionData(resources.RelativeVirtualAddress + (int)r.Offset).GetReader();
            var length = block.ReadInt32();
            result[md.GetString(r.Name)] = block.ReadBytes(length);
        }
        return result;
    }
}
