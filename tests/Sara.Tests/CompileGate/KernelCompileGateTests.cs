using Sara.Native.Runtime;

namespace Sara.Tests.CompileGate;

/// <summary>
/// Every kernels/*.cu must compile with NVRTC for sm_80 and sm_90 with no warning and zero spill bytes
/// (DESIGN 2.1). Prints registers / shared / stack / spill per kernel to the test output.
/// </summary>
[TestFixture]
public class KernelCompileGateTests
{
    public static IEnumerable<TestCaseData> KernelFiles() =>
        KernelGate.SourceFiles().Select(f => new TestCaseData(f).SetName($"CompileGate({f})"));

    [TestCaseSource(nameof(KernelFiles))]
    public void Kernel_compiles_for_sm80_and_sm90_without_warnings_or_spills(string file)
    {
        var source = File.ReadAllText(Path.Combine(KernelGate.KernelsDirectory(), file));
        var declared = KernelSources.EntryPoints(source);
        Assert.That(declared, Is.Not.Empty, $"{file} declares no extern \"C\" __global__ entry point");

        var results = new List<KernelCompileResult>();
        var problems = new List<string>();
        foreach (var arch in KernelGate.Arches)
        {
            var r = KernelGate.Compile(file, arch);
            results.Add(r);
            problems.AddRange(KernelGate.Problems(r, declared).Select(p => $"{arch}: {p}"));
        }
        TestContext.Out.WriteLine(KernelGate.Table(results));
        Assert.That(problems, Is.Empty, $"{file}:\n{string.Join("\n", problems)}\n\nlog:\n{string.Join("\n", results.Select(r => r.Log))}");
    }

    [Test]
    public void The_assembly_embeds_exactly_the_kernel_files_on_disk()
    {
        var dir = KernelGate.KernelsDirectory();
        Assert.That(KernelSources.SourceFiles, Is.Not.Empty.And.EqualTo(KernelGate.SourceFiles()));
        Assert.That(KernelSources.HeaderFiles, Is.EquivalentTo(KernelGate.Headers().Keys));
        foreach (var f in KernelSources.SourceFiles.Concat(KernelSources.HeaderFiles))
            Assert.That(KernelSources.ReadText(f), Is.EqualTo(File.ReadAllText(Path.Combine(dir, f))), $"embedded {f} is stale");
    }
}
