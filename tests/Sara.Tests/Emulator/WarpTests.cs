// Warp shuffles and votes on the emulator against CUDA's documented results, including a partial last warp.
using Sara.Native.Runtime;
using Sara.Tests.Support;

namespace Sara.Tests.Emulator;

public sealed class WarpTests : EmulatorTestBase
{
    private const int Idx = 0, Up = 1, Down = 2, Xor = 3;

    /// <summary>
    /// The lane a shuffle reads, from the CUDA programming guide's description (not PTX's formula):
    /// -1 = the lane keeps its own value. Widths split the warp into independent groups.
    /// </summary>
    private static int SourceLane(int mode, int lane, int arg, int width)
    {
        var groupStart = lane / width * width;
        return mode switch
        {
            Idx => groupStart + (lane * 5 + arg) % width,                       // srcLane modulo width
            Up => lane % width >= arg ? lane - arg : -1,                         // below the group start: own
            Down => lane % width + arg < width ? lane + arg : -1,                // past the group end: own
            _ => (lane ^ arg) < groupStart + width ? lane ^ arg : -1,           // later groups: own
        };
    }

    public static IEnumerable<TestCaseData> ShuffleCases()
    {
        (int Mode, int Arg)[] ops = [(Idx, 3), (Up, 5), (Down, 5), (Down, 1), (Xor, 1), (Xor, 5), (Xor, 16)];
        foreach (var (mode, arg) in ops)
            foreach (var width in new[] { 32, 16, 8 })
                foreach (var (bx, by) in new[] { (45, 1), (9, 5), (64, 1) })
                    yield return new TestCaseData(mode, arg, width, bx, by)
                        .SetName($"Shuffle_{new[] { "idx", "up", "down", "xor" }[mode]}{arg}_w{width}_block{bx}x{by}");
    }

    [TestCaseSource(nameof(ShuffleCases))]
    public void ShuffleMatchesCuda(int mode, int arg, int width, int bx, int by)
    {
        const int blocks = 3;
        var n = bx * by;
        var total = n * blocks;
        var rand = new Rand();
        var inF = EmuHost.Pinned(total, 0f);
        var inI = EmuHost.Pinned(total, 0);
        var src = rand.Normal(total);
        for (var i = 0; i < total; i++)
        {
            inF[i] = src[i];
            inI[i] = rand.Int(int.MinValue, int.MaxValue);
        }
        var outF = EmuHost.Pinned(total, float.NaN);
        var outI = EmuHost.Pinned(total, int.MinValue);
        EmuHost.Launch("emu_selftest_shuffle", (uint)blocks, new Dim3((uint)bx, (uint)by), 0,
            EmuHost.Ptr(inF), EmuHost.Ptr(inI), EmuHost.Ptr(outF), EmuHost.Ptr(outI), mode, arg, width);

        int checkedLanes = 0, wrong = 0;
        for (var b = 0; b < blocks; b++)
            for (var t = 0; t < n; t++)
            {
                var lane = t % 32;
                var lanesInWarp = Math.Min(32, n - t / 32 * 32);
                var s = SourceLane(mode, lane, arg, width);
                if (s >= lanesInWarp) continue; // reading a lane that does not exist: undefined in CUDA
                var from = b * n + (s < 0 ? t : t - lane + s);
                checkedLanes++;
                var g = b * n + t;
                if (BitConverter.SingleToInt32Bits(outF[g]) != BitConverter.SingleToInt32Bits(inF[from]) || outI[g] != inI[from]) wrong++;
            }
        Assert.That(checkedLanes, Is.GreaterThan(total / 2), "too few lanes have a defined result to make this case meaningful");
        Assert.That(wrong, Is.Zero, $"{wrong} of {checkedLanes} lanes got the wrong value");
    }

    [TestCase(45, 1)]
    [TestCase(7, 7)]
    [TestCase(128, 1)]
    public void VotesAndSyncwarpWithinEachWarp(int bx, int by)
    {
        const int blocks = 2;
        var n = bx * by;
        var total = n * blocks;
        var rand = new Rand();
        var pred = EmuHost.Pinned(total, 0);
        var values = EmuHost.Pinned(total, 0);
        for (var i = 0; i < total; i++)
        {
            var warp = i % n / 32;
            pred[i] = (warp % 3) switch { 0 => 1, 1 => 0, _ => rand.Int(0, 2) }; // all true, all false, mixed
            values[i] = rand.Int(-1000, 1000);
        }
        var outp = EmuHost.Pinned(total * 4, int.MinValue);
        EmuHost.Launch("emu_selftest_vote", (uint)blocks, new Dim3((uint)bx, (uint)by), 0, EmuHost.Ptr(pred), EmuHost.Ptr(values), EmuHost.Ptr(outp));

        for (var b = 0; b < blocks; b++)
            for (var t = 0; t < n; t++)
            {
                var start = b * n + t / 32 * 32;
                var lanes = Math.Min(32, n - t / 32 * 32);
                uint ballot = 0;
                var sum = 0;
                for (var k = 0; k < lanes; k++)
                {
                    if (pred[start + k] != 0) ballot |= 1u << k;
                    sum += values[start + k];
                }
                var g = b * n + t;
                var all = ballot == (lanes == 32 ? uint.MaxValue : (1u << lanes) - 1);
                Assert.That(new[] { outp[g * 4], outp[g * 4 + 1], outp[g * 4 + 2], outp[g * 4 + 3] },
                    Is.EqualTo(new[] { (int)ballot, ballot != 0 ? 1 : 0, all ? 1 : 0, sum }), $"block {b} thread {t}");
            }
    }
}
