// Proof that the emulator's sanitizer finds real kernel bugs: every seeded bug (SeededBugs) is built at test time into
// a module that overrides the library's kernels of its .cu, then the backend op that launches the kernel runs in
// sanitizer mode, twice on fresh random inputs: both runs must fail with the diagnostic of the bug's class naming
// the kernel. The same op on the unmodified kernels passes in sanitizer mode, so the diagnostic is the bug's.
using Sara.Bindings;
using Sara.Native.Backends;
using Sara.Tests.Support;
using Emu = Sara.Bindings.Emulator;

namespace Sara.Tests.Emulator;

[NonParallelizable] // sanitizer mode, the schedule and loaded modules are process-wide
public sealed class SeededBugTests : EmulatorTestBase
{
    private Dictionary<string, string> _modules = new();
    private string _schedule = "";
    private bool _sanitizing;

    public static IEnumerable<TestCaseData> Bugs()
        => SeededBugs.All.Select(b => new TestCaseData(b).SetName($"SeededBug({b.Name})"));

    [OneTimeSetUp]
    public void BuildModules() => _modules = MutantModules.BuildAll(SeededBugs.All);

    [SetUp]
    public void SanitizerOn()
    {
        _schedule = Emu.Schedule();
        _sanitizing = Emu.Sanitizing();
        Assert.That(Emu.SetSchedule("forward"), Is.Zero);
        Emu.SetSanitize(true);
    }

    [TearDown]
    public void RestoreMode()
    {
        Emu.SetSanitize(_sanitizing);
        Assert.That(Emu.SetSchedule(_schedule), Is.Zero);
    }

    [TestCaseSource(nameof(Bugs))]
    public void GivesItsClassDiagnosticNamingTheKernelOnEveryRun(SeededBug bug)
    {
        using (var clean = TestDevices.Create("emu"))
            bug.Exercise(clean, new Rand()); // the unmodified kernels pass the same exercise

        var module = Emu.LoadModule(_modules[bug.Name]);
        Assert.That(module, Is.Not.EqualTo((nint)0), Emu.LastError());
        try
        {
            var messages = new List<string>();
            for (var run = 0; run < 2; run++)
            {
                using var backend = TestDevices.Create("emu");
                var ex = Assert.Throws<NativeCallException>(() => bug.Exercise(backend, new Rand()), $"{bug.Name}: run {run + 1} found nothing")!;
                messages.Add(ex.Message);
                TestContext.Out.WriteLine(ex.Message);
                Assert.That(ex.Message, Does.Contain($"({bug.Kernel}: {bug.Class}: ").And.Contain($"kernel {bug.Kernel} "),
                    $"{bug.Name} must give a {bug.Class} diagnostic naming {bug.Kernel}");
            }
            Assert.That(messages[1], Is.EqualTo(messages[0]), "the same diagnostic on every run");
        }
        finally
        {
            Assert.That(Emu.UnloadModule(module), Is.Zero);
        }
    }

    [Test]
    public void AModuleThatDoesNotLoadFailsWithTheLoadersMessage()
    {
        Assert.That(Emu.LoadModule("/nonexistent/sara-mutant.so"), Is.EqualTo((nint)0));
        Assert.That(Emu.LastError(), Does.StartWith("sara_emu_load_module: ").And.Contain("/nonexistent/sara-mutant.so"));
        Assert.That(Emu.UnloadModule(0), Is.Not.Zero);
    }

    [Test]
    public void EveryClassAndEveryKernelFamilyIsSeeded()
    {
        Assert.That(SeededBugs.All, Has.Length.GreaterThanOrEqualTo(15));
        Assert.That(SeededBugs.All.Select(b => b.Class).Distinct(), Is.EquivalentTo(new[] { "memcheck", "racecheck", "initcheck", "synccheck" }));
        var families = Directory.GetFiles(RepositoryPaths.Kernels, "*.cu").Select(Path.GetFileName).Append("common.cuh");
        Assert.That(families.Where(f => !SeededBugs.All.Any(b => b.File == f)), Is.Empty, "a kernel file without a seeded bug");
    }
}
