// Builds seeded bugs into emulator modules at test time: the mutated file goes into a folder of its own (with the
// kernel file beside it when the mutation is in common.cuh) and artifacts/native/sara_emu_module.cmake compiles the
// checked variant of that one .cu against libsara_emu.so (about a second each). Modules are cached by content under
// artifacts/emu-mutants, keyed on the mutated source and on what the module depends on (the library and its headers).
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Sara.Tests.Support;

namespace Sara.Tests.Emulator;

internal static class MutantModules
{
    private static string Script => Path.Combine(RepositoryPaths.Root, "artifacts", "native", "sara_emu_module.cmake");
    private static string Cache => Path.Combine(RepositoryPaths.Root, "artifacts", "emu-mutants");

    /// <summary>Builds every bug (two compilers at a time); returns the module path per bug name.</summary>
    public static Dictionary<string, string> BuildAll(IEnumerable<SeededBug> bugs)
    {
        Assert.That(File.Exists(Script), Is.True, $"{Script} is written by the emulator's build (./build.sh --target=Emulator)");
        var result = new System.Collections.Concurrent.ConcurrentDictionary<string, string>();
        Parallel.ForEach(bugs, new ParallelOptions { MaxDegreeOfParallelism = 2 }, bug => result[bug.Name] = Build(bug));
        return new Dictionary<string, string>(result);
    }

    public static string Build(SeededBug bug)
    {
        var kernels = RepositoryPaths.Kernels;
        var mutated = bug.Apply(File.ReadAllText(Path.Combine(kernels, bug.File)));
        var cu = bug.File == bug.Cu ? mutated : File.ReadAllText(Path.Combine(kernels, bug.Cu));
        var key = Hash(bug.File, mutated, bug.Cu, cu, Dependencies());
        var dir = Path.Combine(Cache, $"{bug.Name}-{key}");
        var module = Path.Combine(dir, Path.ChangeExtension(bug.Cu, ".so"));
        if (File.Exists(module)) return module;

        var work = dir + ".tmp-" + Environment.ProcessId;
        Directory.CreateDirectory(work);
        File.WriteAllText(Path.Combine(work, bug.Cu), cu);
        if (bug.File != bug.Cu) File.WriteAllText(Path.Combine(work, bug.File), mutated);
        var psi = new ProcessStartInfo("cmake")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { $"-DCU={Path.Combine(work, bug.Cu)}", $"-DOUT={Path.Combine(work, Path.GetFileName(module))}", $"-DINCLUDE={work}", "-P", Script })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"seeded bug {bug.Name} does not compile:\n{stdout.Result}{stderr}");
        try { Directory.Move(work, dir); }
        catch (IOException) when (File.Exists(module)) { Directory.Delete(work, true); } // built meanwhile by another run
        return module;
    }

    private static string Dependencies()
    {
        var emu = Path.Combine(RepositoryPaths.Kernels, "emu");
        var lib = new FileInfo(RepositoryPaths.EmulatorLibrary);
        return string.Join("\n", new[] { "emu.h", "registry.h", "generate.cmake" }.Select(f => File.ReadAllText(Path.Combine(emu, f)))) +
            File.ReadAllText(Script) + lib.Length + lib.LastWriteTimeUtc.Ticks;
    }

    private static string Hash(params string[] parts)
        => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\0", parts))))[..16].ToLowerInvariant();
}
