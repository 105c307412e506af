using System.Globalization;
using System.Text.RegularExpressions;
using Sara.Tests.Support;

namespace Sara.Tests.Package;

/// <summary>
/// docs/host-trainer/Program.cs, built against the packed Sara.Native like the quickstart: a trainer with its own
/// allocator, stream and autograd trains a two-layer SARA model through the stateless ops on cpu and on the emulator
/// taken from the package. The library never frees the trainer's memory, one training step moves nothing between host
/// and device (counted by the emulated runtime), and the loss falls. docs/torchsharp/Program.cs is compiled against
/// TorchSharp 0.107 (its native libtorch needs a newer libstdc++ than Debian 12 has, so it is not run).
/// </summary>
[TestFixture]
[Category("Package")]
[NonParallelizable]
public sealed partial class HostTrainerConsumerTests
{
    private const int Buffers = 2 * 16 + 8;   // two layers of 16 buffers (10 + 6 AdamW moments), x, target, 2 teachers, r1, g2, dr1, dy1

    [TestCase("cpu")]
    [TestCase("emu")]
    public void The_host_trainer_trains_on_its_own_buffers_and_the_library_never_frees_them(string device)
    {
        var r = QuickstartConsumer.HostTrainer.Run(new Dictionary<string, string> { ["SARA_DEVICE"] = device });
        TestContext.Out.WriteLine(r.Output);
        Assert.That(r.ExitCode, Is.Zero, r.ToString());
        var lines = r.Output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

        var losses = lines.Select(l => LossLine().Match(l)).Where(m => m.Success)
            .Select(m => (Step: int.Parse(m.Groups["step"].Value, CultureInfo.InvariantCulture),
                          Loss: double.Parse(m.Groups["loss"].Value, CultureInfo.InvariantCulture))).ToArray();
        Assert.That(losses.Select(l => l.Step), Is.EqualTo(new[] { 1, 10, 20, 30, 40, 50, 60 }));
        Assert.That(losses.Select(l => l.Loss), Has.All.Matches<double>(double.IsFinite));
        // Seeded data (Random(7)): the same run every time.
        Assert.That(losses[^1].Loss, Is.Not.NaN.And.LessThan(losses[0].Loss / 5), "the stateless ops and AdamW learn the change");

        Assert.That(lines, Has.Member("library pool in use after training: 0 bytes"), "every scratch block went back; no model buffer is the library's");
        Assert.That(lines, Has.Member($"allocator: {Buffers} buffers, 0 freed while the library held them"));
        Assert.That(lines, Has.Member("trainer's lambda intact after the library let go: True"), "disposing tensors and the backend left the memory alone");
        Assert.That(lines, Has.Member($"allocator: {Buffers} freed by the trainer, 0 bytes live"));

        if (device == "emu")
        {
            var dev = lines.Single(l => l.StartsWith("device: emulator (", StringComparison.Ordinal));
            var path = dev[(dev.LastIndexOf("; ", StringComparison.Ordinal) + 2)..^1];
            Assert.That(path, Does.EndWith("/runtimes/linux-x64/native/libsara_emu.so"), "the emulator from the package");
            Assert.That(path, Does.Not.StartWith(RepositoryPaths.Root), "not the checkout's artifacts/native");
            Assert.That(dev, Does.Contain("caller's stream 0x7e57"));
            Assert.That(lines, Has.Member("stream: library on 0x7e57, trainer's 0x7e57"));
            Assert.That(lines, Has.Member("one step: 0 copies to device, 0 copies to host, 0 host waits"), "no host transfer in a training step");
        }
        else Assert.That(lines, Has.Some.StartsWith("device: cpu"));
    }

    [Test]
    public void The_torchsharp_example_compiles_against_torchsharp_0_107() =>
        TestContext.Out.WriteLine($"built in {QuickstartConsumer.TorchSharp.BuildTime.TotalSeconds:F1} s");

    [GeneratedRegex(@"^step (?<step>\d+): loss (?<loss>\S+)$")]
    private static partial Regex LossLine();
}
