namespace Sara.Tests.Support;

/// <summary>The suite's tolerance checks must fail on NaN (NUnit's bare Is.LessThan does not).</summary>
public class NaNGuardTests
{
    [Test]
    public void AssertCloseFailsOnNaN() =>
        Assert.That(() => Oracle.AssertClose([float.NaN, 1f], [1.0, 1.0], 1e-5, "x"), Throws.InstanceOf<AssertionException>());

    [Test]
    public void AssertCloseWithFloorFailsOnNaN() =>
        Assert.That(() => Oracle.AssertClose([float.NaN], [1.0], [1.0], 1e-5, "x"), Throws.InstanceOf<AssertionException>());

    [Test]
    public void TheSuitesLessThanFormRejectsNaN() =>
        Assert.That(() => Assert.That(double.NaN, Is.Not.NaN.And.LessThan(1e-5)), Throws.InstanceOf<AssertionException>());

    [Test]
    public void NoBareLessThanIsLeftInTheSuite()
    {
        var root = Path.Combine(RepositoryPaths.Root, "tests");
        var bare = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => System.Text.RegularExpressions.Regex.IsMatch(x.line, @"(?<!NaN\.And\.)Is\.LessThan(OrEqualTo)?\(") && !x.line.Contains("Regex.IsMatch"))
            .Select(x => $"{Path.GetRelativePath(root, x.f)}:{x.i + 1}")
            .ToList();
        Assert.That(bare, Is.Empty, "use Is.Not.NaN.And.LessThan(...): a bare Is.LessThan passes NaN");
    }
}
