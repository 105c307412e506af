using System.Text.RegularExpressions;
using Sara.Tests.Support;

namespace Sara.Tests.Package;

/// <summary>
/// The README's C# quickstart is docs/quickstart/Program.cs (which the package tests compile and run): the README
/// points at it, and any C# block in the README that builds a SaraLinear is that file verbatim, so neither can drift.
/// </summary>
[TestFixture]
[Category("Package")]
public sealed partial class QuickstartReadmeTests
{
    private static string Normalise(string s) => s.Replace("\r\n", "\n").Trim();

    [Test]
    public void The_readme_quickstart_is_the_compiled_file()
    {
        var readmePath = Path.Combine(RepositoryPaths.Root, "README.md");
        Assert.That(readmePath, Does.Exist);
        var readme = File.ReadAllText(readmePath);
        Assert.That(readme, Does.Contain("docs/quickstart/Program.cs"), "the README points at the compiled quickstart");

        var quickstart = Normalise(File.ReadAllText(QuickstartConsumer.QuickstartSource));
        var blocks = CSharpBlock().Matches(readme).Select(m => Normalise(m.Groups["code"].Value))
            .Where(code => code.Contains("SaraLinear.FromPretrained", StringComparison.Ordinal)).ToArray();
        Assert.That(blocks, Is.Not.Empty, "the README shows the quickstart as a C# block");
        foreach (var code in blocks)
            Assert.That(code, Is.EqualTo(quickstart), "a README C# block that builds a SaraLinear must be docs/quickstart/Program.cs verbatim");
    }

    [GeneratedRegex(@"```(?:csharp|cs|c#)[ \t]*\r?\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
