// `sara merge` against hostile and careless use (issue 16): outputs that are inputs under another name, adapters with
// NaN / infinity or overflowing products, shapes whose arithmetic overflows, FIFOs, stale temporary files, memory.
using Sara.Native.IO;
using Sara.Tests.IO;
using Sara.Tests.Support;

namespace Sara.Tests.Cli;

public sealed class MergeSafetyTests : CliTestBase
{
    private const int M = 24, N = 20, K = 4;

    private string Base(SafetensorsDType dtype = SafetensorsDType.F32, float std = 1f, string name = "base.safetensors")
    {
        var rand = new Rand(5);
        var path = PathOf(name);
        new SafetensorsWriter()
            .Add("fc.weight", dtype, [M, N], rand.Normal(M * N, std))
            .Add("fc.bias", SafetensorsDType.F32, [M], rand.Normal(M))
            .Save(path);
        return path;
    }

    private string Adapter(float[]? lambda = null, float[]? a = null, float[]? b = null, double scale = 1.0, string name = "adapter.safetensors")
    {
        var rand = new Rand(6);
        var adapter = new AdapterFile(AdapterMetadata.Create(AdapterMethod.Sara, "SumFraction", 0.25, scale));
        adapter.AddLayer(AdapterLayer.Sara("fc", M, N, lambda ?? rand.Normal(K), a ?? rand.Normal(M * K, 0.3), b ?? rand.Normal(K * N, 0.3)));
        var path = PathOf(name);
        adapter.Save(path);
        return path;
    }

    private static void AssertRefused(CliRun run, params string[] mentions)
    {
        Assert.That(run.ExitCode, Is.EqualTo(1), run.Err);
        Assert.That(run.Err.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), run.Err);
        Assert.That(run.Err, Does.Not.Contain("   at "));
        foreach (var m in mentions) Assert.That(run.Err, Does.Contain(m));
    }

    private void AssertNoOutputNorTemp(string output, params string[] expected)
    {
        Assert.That(File.Exists(output), Is.False, "a refused merge writes nothing");
        Assert.That(HostileFiles.Listing(Dir), Is.EqualTo(expected.OrderBy(n => n, StringComparer.Ordinal).ToArray()), "no temporary file is left");
    }

    // ---- outputs that are inputs ----

    [Test]
    public void OutputThatIsTheAdapterIsRefusedAndTheAdapterKept()
    {
        var (basePath, adapterPath) = (Base(), Adapter());
        var before = File.ReadAllBytes(adapterPath);
        AssertRefused(Sara("merge", basePath, adapterPath, "-o", adapterPath, "--device", "cpu"), "adapter", "same file");
        Assert.That(File.ReadAllBytes(adapterPath), Is.EqualTo(before));
    }

    [Test]
    public void BaseGivenThroughASymlinkWithTheRealBaseAsOutputIsRefused()
    {
        var (basePath, adapterPath) = (Base(), Adapter());
        var link = PathOf("link.safetensors");
        File.CreateSymbolicLink(link, basePath);
        var before = File.ReadAllBytes(basePath);
        AssertRefused(Sara("merge", link, adapterPath, "-o", basePath, "--device", "cpu"), "base checkpoint", "same file");
        Assert.That(File.ReadAllBytes(basePath), Is.EqualTo(before));
    }

    [Test]
    public void OutputThatIsAHardLinkOfTheBaseIsRefused()
    {
        var (basePath, adapterPath) = (Base(), Adapter());
        var hard = PathOf("hard.safetensors");
        HostileFiles.HardLink(basePath, hard);
        var before = File.ReadAllBytes(basePath);
        AssertRefused(Sara("merge", basePath, adapterPath, "-o", hard, "--device", "cpu"), "base checkpoint", "same file");
        Assert.That(File.ReadAllBytes(basePath), Is.EqualTo(before));
    }

    /// <summary>
    /// A symbolic link given as -o is refused (not followed, not replaced): the link and its target stay as they were.
    /// The README says so; the user names the target itself or removes the link.
    /// </summary>
    [Test]
    public void SymlinkAsOutputIsRefusedAndLeftAsItWas()
    {
        var (basePath, adapterPath) = (Base(), Adapter());
        var target = PathOf("previous.safetensors");
        File.WriteAllBytes(target, [1, 2, 3]);
        var link = PathOf("current.safetensors");
        File.CreateSymbolicLink(link, target);
        AssertRefused(Sara("merge", basePath, adapterPath, "-o", link, "--device", "cpu"), "symbolic link");
        Assert.That(new FileInfo(link).LinkTarget, Is.EqualTo(target), "the link is still a link");
        Assert.That(File.ReadAllBytes(target), Is.EqualTo(new byte[] { 1, 2, 3 }));

        // Named directly, the target is replaced as any output is.
        var run = Sara("merge", basePath, adapterPath, "-o", target, "--device", "cpu");
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        using var merged = SafetensorsFile.Open(link);
        Assert.That(merged.Tensors.Select(t => t.Name), Is.EqualTo(new[] { "fc.weight", "fc.bias" }));
    }

    // ---- non-finite values ----

    [Test]
    public void NonFiniteAdapterValueIsRefusedByName([Values("lambda", "A", "B")] string tensor,
        [Values(float.NaN, float.PositiveInfinity, float.NegativeInfinity)] float value)
    {
        var rand = new Rand(7);
        float[] lambda = rand.Normal(K), a = rand.Normal(M * K), b = rand.Normal(K * N);
        var poisoned = tensor switch { "lambda" => lambda, "A" => a, _ => b };
        poisoned[rand.Int(0, poisoned.Length)] = value;
        var basePath = Base();
        var adapterPath = Adapter(lambda, a, b);
        var output = PathOf("merged.safetensors");
        AssertRefused(Sara("merge", basePath, adapterPath, "-o", output, "--device", "cpu"), $"fc.{tensor}", "NaN or infinite");
        AssertNoOutputNorTemp(output, "adapter.safetensors", "base.safetensors");
    }

    [Test]
    public void HugeLambdaThatOverflowsIsRefusedNamingTheLayerAndCount()
    {
        // FLT_MAX singular values on unit directions: every product A diag(lambda) B is K * FLT_MAX, infinite.
        var lambda = Enumerable.Repeat(float.MaxValue, K).ToArray();
        var (basePath, adapterPath) = (Base(), Adapter(lambda, Enumerable.Repeat(1f, M * K).ToArray(), Enumerable.Repeat(1f, K * N).ToArray()));
        var output = PathOf("merged.safetensors");
        AssertRefused(Sara("merge", basePath, adapterPath, "-o", output, "--device", "cpu"), "layer 'fc'", $"makes {M * N} of its {M * N} weights NaN or infinite in F32");
        AssertNoOutputNorTemp(output, "adapter.safetensors", "base.safetensors");
    }

    [Test]
    public void MergeThatOverflowsAnF16BaseIsRefused()
    {
        // Every product is about 1e5 > 65504, the largest F16: finite in float32, infinite once stored.
        var basePath = Base(SafetensorsDType.F16, std: 0.01f);
        var adapterPath = Adapter(Enumerable.Repeat(1e5f / K, K).ToArray(), Enumerable.Repeat(1f, M * K).ToArray(), Enumerable.Repeat(1f, K * N).ToArray());
        var output = PathOf("merged.safetensors");
        AssertRefused(Sara("merge", basePath, adapterPath, "-o", output, "--device", "cpu"), "layer 'fc'", $"{M * N:N0} of its {M * N:N0}", "F16");
        AssertNoOutputNorTemp(output, "adapter.safetensors", "base.safetensors");
    }

    [Test]
    public void FiniteMergeStillSucceedsAndIsFinite()
    {
        var (basePath, adapterPath) = (Base(SafetensorsDType.BF16), Adapter());
        var output = PathOf("merged.safetensors");
        var run = Sara("merge", basePath, adapterPath, "-o", output, "--device", "cpu");
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        using var merged = SafetensorsFile.Open(output);
        Assert.That(merged.ReadFloats("fc.weight").All(float.IsFinite), Is.True);
        Assert.That(merged.GetInfo("fc.weight").DType, Is.EqualTo(SafetensorsDType.BF16));
    }

    // ---- shape arithmetic ----

    [TestCase("[2147483648, 0]")]
    [TestCase("[0, 4611686018427387904]")]
    [TestCase("[1, 4294967296, 4294967296, 0]")]
    public void ZeroSizeTargetWithHugeDimsIsAFormatErrorNotAnInternalOne(string shape)
    {
        var basePath = PathOf("base.safetensors");
        RawSafetensors.Write(basePath, $$$"""{"fc.weight":{"dtype":"F32","shape":{{{shape}}},"data_offsets":[0,0]},"fc.bias":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", new byte[4]);
        var adapterPath = Adapter();
        var output = PathOf("merged.safetensors");
        var run = Sara("merge", basePath, adapterPath, "-o", output, "--device", "cpu");
        AssertRefused(run, "fc");
        AssertNoOutputNorTemp(output, "adapter.safetensors", "base.safetensors");
    }

    // ---- FIFOs ----

    [TestCase("adapter")]
    [TestCase("base")]
    public void FifoAsAnInputIsRefusedWithoutHanging(string which)
    {
        var fifo = HostileFiles.Fifo(PathOf("pipe.safetensors"));
        var (basePath, adapterPath) = which == "base" ? (fifo, Adapter()) : (Base(), fifo);
        var run = HostileFiles.FinishesWithin(20, fifo, () => Sara("merge", basePath, adapterPath, "-o", PathOf("out.safetensors"), "--device", "cpu"));
        AssertRefused(run, "FIFO", "not a regular file");
    }

    // ---- temporary files ----

    [Test]
    public void StaleTemporaryFilesOfTheSameOutputAreRemovedOthersKept()
    {
        var (basePath, adapterPath) = (Base(), Adapter());
        var output = PathOf("merged.safetensors");
        // A run killed with SIGKILL left these: pid 999999999 cannot be running (pid_max is at most 2^22).
        var stale = PathOf(".merged.safetensors.999999999.0123456789ab.sara-tmp");
        var live = PathOf(".merged.safetensors.1.0123456789ab.sara-tmp"); // pid 1 is running
        var otherOutput = PathOf(".other.safetensors.999999999.0123456789ab.sara-tmp");
        var legacy = PathOf(".merged.safetensors.0123456789abcdef0123456789abcdef.tmp"); // the name issue 16 found after kill -9
        foreach (var f in new[] { stale, live, otherOutput, legacy })
        {
            File.WriteAllBytes(f, new byte[100]);
            File.SetLastWriteTimeUtc(f, DateTime.UtcNow.AddHours(-1));
        }
        var run = Sara("merge", basePath, adapterPath, "-o", output, "--device", "cpu");
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(File.Exists(stale), Is.False, "the crashed run's temporary file is removed");
        Assert.That(File.Exists(legacy), Is.False, "an earlier version's temporary file is removed");
        Assert.That(File.Exists(live), Is.True, "a running process's temporary file is left alone");
        Assert.That(File.Exists(otherOutput), Is.True, "another output's temporary file is left alone");
    }

    // ---- memory ----

    [Test]
    public void CopiedTensorsAreStreamedNotHeld()
    {
        // 32 MiB of tensors the adapter does not touch: copied through a small buffer, never allocated whole.
        var basePath = PathOf("big.safetensors");
        var writer = new SafetensorsWriter().Add("fc.weight", [M, N], new Rand(8).Normal(M * N));
        for (var i = 0; i < 4; i++) writer.AddLazy($"embed{i}", SafetensorsDType.F32, [1024, 2048], () => new float[1024 * 2048]);
        writer.Save(basePath);
        var adapterPath = Adapter();
        var output = PathOf("merged.safetensors");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var run = Sara("merge", basePath, adapterPath, "-o", output, "--device", "cpu");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        TestContext.Out.WriteLine($"merge of a {new FileInfo(basePath).Length >> 20} MiB base allocated {allocated >> 20} MiB on its thread");
        Assert.That(allocated, Is.Not.NaN.And.LessThan(8L << 20), "the 32 MiB of copied tensors must not be held in memory");
        Assert.That(new FileInfo(output).Length, Is.EqualTo(new FileInfo(basePath).Length));
    }
}
