// Shared fixture plumbing for the IO tests: a fresh temp folder per test, removed in teardown.
namespace Sara.Tests.IO;

public abstract class IoTestBase
{
    protected string Folder { get; private set; } = "";

    [SetUp]
    public void CreateFolder()
    {
        Folder = Path.Combine(Path.GetTempPath(), "sara-io-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
    }

    [TearDown]
    public void DeleteFolder()
    {
        if (Directory.Exists(Folder)) Directory.Delete(Folder, recursive: true);
    }

    protected string FilePath(string name) => Path.Combine(Folder, name);
}
