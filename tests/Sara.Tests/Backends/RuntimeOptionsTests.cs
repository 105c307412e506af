using Sara.Native.Autograd;
using Sara.Native.Backends;
using Sara.Native.Layers;
using Sara.Native.Optim;
using Sara.Native.Runtime;
using Sara.Native.Tensors;
using Sara.Tests.Layers;

namespace Sara.Tests.Backends;

/// <summary>
/// The caller's context and stream reach the runtime (checked on the emulated runtime, which takes the same options; the
/// GPU side, cublasSetStream / cusolverDnSetStream / launches on the stream, is in GpuRuntimeTests and needs a GPU), and the
/// host waits only where an API hands back host values: counted on the emulated runtime, at the points the GPU runtime has them.
/// </summary>
[NonParallelizable]
public class RuntimeOptionsTests
{
    [TestCase(null, "own stream")]
    [TestCase(0L, "legacy default stream")]
    [TestCase(1L, "legacy default stream")]
    [TestCase(2L, "per-thread default stream")]
    [TestCase(0x7f00dead0L, "caller's stream 0x7f00dead0")]
    public void The_emulated_runtime_takes_the_callers_stream(long? stream, string described)
    {
        var options = new RuntimeOptions { Stream = stream is null ? null : (nint)stream.Value };
        using var backend = (CudaBackend)Devices.Create("emu", options);
        var runtime = (EmulatedRuntime)backend.Runtime;
        Assert.That(runtime.Options, Is.SameAs(options));
        if (stream is { } s) Assert.That(runtime.Stream, Is.EqualTo((nint)s));
        else Assert.That(runtime.Stream, Is.Not.EqualTo((nint)0).And.Not.EqualTo((nint)1).And.Not.EqualTo((nint)2), "a stand-in for a stream of its own");
        Assert.That(backend.Description, Does.Contain("primary context, " + described));
    }

    [Test]
    public void The_emulated_runtime_reports_a_given_or_current_context()
    {
        using (var b = Devices.Create("emu", new RuntimeOptions { UseCurrentContext = true, Stream = RuntimeOptions.LegacyStream }))
            Assert.That(b.Description, Does.Contain("current context, legacy default stream"));
        using (var b = Devices.Create("emu", new RuntimeOptions { Context = 0x1234 }))
            Assert.That(b.Description, Does.Contain("caller's context 0x1234, own stream"));
    }

    [Test]
    public void Contradictory_options_are_refused_before_anything_opens()
    {
        var both = Assert.Throws<ArgumentException>(() => Devices.Create("emu", new RuntimeOptions { Context = 0x10, UseCurrentContext = true }));
        Assert.That(both!.Message, Does.Contain("either Context or UseCurrentContext"));
        var device = Assert.Throws<ArgumentException>(() => Devices.Create("emu", new RuntimeOptions { Device = 1, UseCurrentContext = true }));
        Assert.That(device!.Message, Does.Contain("the context decides the device"));
        var cpu = Assert.Throws<ArgumentException>(() => Devices.Create("cpu", new RuntimeOptions { Stream = RuntimeOptions.PerThreadStream }));
        Assert.That(cpu!.Message, Does.Contain("'cpu' takes no CUDA context or stream"));
    }

    [Test]
    public void A_stream_given_to_the_default_device_never_falls_back_to_the_cpu()
    {
        var options = new RuntimeOptions { Stream = RuntimeOptions.LegacyStream };
        if (GpuRuntime.TryStart(options, out var gpu, out var failure))
        {
            gpu.Dispose();
            using var backend = Devices.Create(null, options);
            Assert.That(backend.Name, Is.EqualTo("cuda"));
            return;
        }
        var saved = Environment.GetEnvironmentVariable(Devices.EnvironmentVariable);
        Environment.SetEnvironmentVariable(Devices.EnvironmentVariable, null);
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => Devices.Create(null, options));
            Assert.That(e!.Message, Is.EqualTo($"Device 'cuda' is not available: {failure.Reason}"));
        }
        finally
        {
            Environment.SetEnvironmentVariable(Devices.EnvironmentVariable, saved);
        }
    }

    [Test]
    public void A_training_step_waits_for_the_device_only_to_return_its_loss()
    {
        var problem = new SaraTraining(seed: 7);
        using var backend = (CudaBackend)Devices.Create("emu", new RuntimeOptions { Stream = RuntimeOptions.PerThreadStream });
        using var layer = SaraLinear.FromPretrained(backend, "layer", problem.W0, problem.M, problem.N, null, new SaraOptions { FixedRank = problem.K });
        using var opt = new AdamW(layer.Parameters, new AdamWOptions(LearningRate: 0.05f));
        using var x = new Variable(backend.FromArray(problem.X, problem.T, problem.N));
        using var target = backend.FromArray(problem.Target, problem.T, problem.M);

        RuntimeCounters Step(bool readLoss)
        {
            var before = backend.Runtime.Counters;
            using var scope = new TensorScope();
            var tape = new Tape();
            var y = layer.Forward(tape, x);
            if (readLoss) Losses.Mse(tape, y, target);
            else
            {
                // Without a loss value: the gradient of 0.5 * ||y - target||^2 by hand (y - target), on the device.
                var dy = backend.Empty(problem.T, problem.M);
                backend.Copy(y.Value, dy);
                backend.Axpby(-1f, target, 1f, dy);
                tape.Seed(y, dy);
            }
            tape.Backward();
            opt.Step(tape);
            var after = backend.Runtime.Counters;
            return new RuntimeCounters(after.CopiesToDevice - before.CopiesToDevice, after.CopiesToHost - before.CopiesToHost,
                after.HostWaits - before.HostWaits);
        }

        Step(readLoss: true);   // warm-up: first-use uploads (the layer's constants) happen here
        Assert.That(Step(readLoss: true), Is.EqualTo(new RuntimeCounters(0, 1, 1)), "one copy to the host and one wait: the loss value");
        Assert.That(Step(readLoss: false), Is.EqualTo(new RuntimeCounters(0, 0, 0)), "no transfer and no wait in a step that reads nothing back");
    }
}
