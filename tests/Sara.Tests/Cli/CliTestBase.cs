// Runs the `sara` command in-process and keeps a fresh temporary folder per test.
using System.Globalization;
using System.Reflection;
using Sara.Cli;

namespace Sara.Tests.Cli;

public abstract class CliTestBase
{
    protected string Dir { get; private set; } = "";

    protected static string ResNet18Path =>
        typeof(CliTestBase).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ResNet18Onnx").Value!;

    [SetUp]
    public void MakeFolder()
    {
        Dir = Path.Combine(Path.GetTempPath(), "sara-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Dir);
    }

    [TearDown]
    public void RemoveFolder()
    {
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }

    protected string PathOf(string name) => Path.Combine(Dir, name);

    protected sealed record CliRun(int ExitCode, string Out, string Err);

    protected static CliRun Sara(params string[] args)
    {
        var o = new StringWriter(CultureInfo.InvariantCulture);
        var e = new StringWriter(CultureInfo.InvariantCulture);
        var code = SaraCli.Run(args, o, e);
        TestContext.Out.WriteLine($"$ sara {string.Join(' ', args)} -> {code}");
        TestContext.Out.WriteLine(o.ToString());
        if (e.ToString().Length > 0) TestContext.Out.WriteLine("stderr: " + e);
        return new CliRun(code, o.ToString(), e.ToString());
    }

    /// <summary>The cells of the table row whose first cell is <paramref name="first"/> (Spectre box or ASCII borders).</summary>
    protected static string[] Row(string output, string first)
    {
        foreach (var line in output.Split('\n'))
        {
            var cells = line.Split(['│', '|'], StringSplitOptions.TrimEntries);
            if (cells.Length > 2 && cells[1] == first) return cells[1..^1];
        }
        throw new AssertionException($"no table row starting with '{first}' in:\n{output}");
    }

    protected static long Count(string cell) => long.Parse(cell.Replace(",", ""), CultureInfo.InvariantCulture);

    protected static double Number(string cell) =>
        double.Parse(cell.Replace("%", "").Replace(",", "").Trim(), CultureInfo.InvariantCulture);
}
