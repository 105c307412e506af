using System.Text.RegularExpressions;
using Sara.Native.Backends;
using Sara.Native.Runtime;
using Sara.Tests.CompileGate;
using Sara.Tests.Support;

namespace Sara.Tests.Kernels.LaunchSurface;

/// <summary>
/// Launch sites against kernel signatures (issue 12, item 8). Every launch in the library goes through a typed launcher
/// of <c>Kernels.g.cs</c>, so the C# compiler checks each site's argument count, order and types; these tests keep that
/// surface equal to the .cu declarations, and the declarations equal to the parameter lists NVRTC compiles (PTX .param:
/// .u64 pointers and 64-bit integers, .u32 ints, .f32 floats, .b8[size] structs), so a change on either side fails CI.
/// </summary>
public partial class LaunchSurfaceTests
{
    private static IReadOnlyList<KernelSignature> SourceSignatures() =>
        KernelGate.SourceFiles().SelectMany(f => KernelSignatures.FromSource(f, File.ReadAllText(Path.Combine(KernelGate.KernelsDirectory(), f)))).ToList();

    [Test]
    public void The_generated_launchers_match_the_kernel_sources()
    {
        var path = Path.Combine(RepositoryPaths.Root, LaunchSurfaceGenerator.RelativePath);
        var want = LaunchSurfaceGenerator.Generate(SourceSignatures());
        if (Environment.GetEnvironmentVariable("SARA_REGENERATE_LAUNCH_SURFACE") == "1")
        {
            File.WriteAllText(path, want);
            Assert.Pass($"regenerated {path}");
        }
        var have = File.Exists(path) ? File.ReadAllText(path) : "";
        Assert.That(have, Is.EqualTo(want),
            $"{LaunchSurfaceGenerator.RelativePath} is stale: a kernel's parameter list changed. Regenerate it with\n" +
            "  SARA_REGENERATE_LAUNCH_SURFACE=1 dotnet test tests/Sara.Tests -c Release --filter \"FullyQualifiedName~LaunchSurface\"\n" +
            "then fix the launch sites the compiler names.");
    }

    public static IEnumerable<TestCaseData> Files() =>
        from f in KernelGate.SourceFiles() from a in KernelGate.Arches select new TestCaseData(f, a).SetArgDisplayNames(f, a);

    [TestCaseSource(nameof(Files))]
    public void Every_source_signature_equals_the_ptx_parameter_list(string file, string arch)
    {
        var declared = KernelSignatures.FromSource(file, File.ReadAllText(Path.Combine(KernelGate.KernelsDirectory(), file)));
        var ptx = KernelSignatures.FromPtx(KernelGate.Compile(file, arch).Ptx);
        Assert.That(ptx.Keys, Is.EquivalentTo(declared.Select(k => k.Name)), $"{file}: entry points in the PTX vs the source");
        foreach (var k in declared)
        {
            var want = k.Parameters.Select(p => p.Kind == KernelArgKind.Struct ? $".b8[{StructSize(p.StructName!)}]" : p.PtxType).ToArray();
            Assert.That(ptx[k.Name], Is.EqualTo(want).AsCollection, $"{file}: {k.Declaration}");
        }
    }

    [Test]
    public unsafe void Struct_parameters_have_the_size_of_their_CSharp_twin()
    {
        Assert.That(LaunchSurfaceGenerator.Structs.Keys, Is.EquivalentTo(new[] { "SaraAdamWSizes" }));
        Assert.That(sizeof(AdamWSizes), Is.EqualTo(112), "SaraAdamWSizes: 8 x 8 + 9 x 4 + 2 x 4, padded to 8");
    }

    private static unsafe int StructSize(string cppName) => cppName switch
    {
        "SaraAdamWSizes" => sizeof(AdamWSizes),
        _ => throw new InvalidOperationException($"no C# twin for struct {cppName}"),
    };

    /// <summary>No launch bypasses the typed surface: a string-named Launch outside Kernels.g.cs is a site the compiler cannot check.</summary>
    [Test]
    public void No_library_code_launches_a_kernel_by_name()
    {
        var src = Path.Combine(RepositoryPaths.Root, "src");
        var offenders = Directory.GetFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith("Kernels.g.cs", StringComparison.Ordinal))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => NamedLaunch().IsMatch(x.line))
            .Select(x => $"{Path.GetRelativePath(RepositoryPaths.Root, x.f)}:{x.i + 1}: {x.line.Trim()}")
            .ToList();
        Assert.That(offenders, Is.Empty, "launch through Kernels.<Name>(...) instead");
    }

    [Test]
    public void The_parser_reads_every_parameter_form_the_kernels_use()
    {
        const string src = """
            // extern "C" __global__ void commented_out(int x)
            extern "C" __global__ void __launch_bounds__(256, 2)
            k_one(const float* __restrict__ X, float* __restrict__ out, const int* labels, int T, long n, long long len,
                  float s, const SaraAdamWSizes batch, double* __restrict__ G)
            { }
            """;
        var k = KernelSignatures.FromSource("x.cu", src).Single();
        Assert.That(k.Name, Is.EqualTo("k_one"));
        Assert.That(k.Parameters.Select(p => (p.Name, p.Kind)), Is.EqualTo(new[]
        {
            ("X", KernelArgKind.Pointer), ("out", KernelArgKind.Pointer), ("labels", KernelArgKind.Pointer), ("T", KernelArgKind.Int32),
            ("n", KernelArgKind.Int64), ("len", KernelArgKind.Int64), ("s", KernelArgKind.Float32), ("batch", KernelArgKind.Struct),
            ("G", KernelArgKind.Pointer),
        }));
        Assert.Throws<FormatException>(() => KernelSignatures.FromSource("y.cu", "extern \"C\" __global__ void k(unsigned short u) {}"));
        var ptx = KernelSignatures.FromPtx(".visible .entry k_one(\n\t.param .u64 k_one_param_0,\n\t.param .align 8 .b8 k_one_param_1[2128],\n\t.param .f32 k_one_param_2\n)");
        Assert.That(ptx["k_one"], Is.EqualTo(new[] { ".u64", ".b8[2128]", ".f32" }));
    }

    [GeneratedRegex("""\.Launch\s*\(\s*"[a-z_0-9]+"|LaunchWith\s*\(\s*"|Launch\s*\(\s*"sara_""")]
    private static partial Regex NamedLaunch();
}
