// 1-D/2-D/3-D grids and blocks: every thread runs exactly once with the right coordinates.
using Sara.Native.Runtime;

namespace Sara.Tests.Emulator;

public sealed class GridTests : EmulatorTestBase
{
    [TestCase(5u, 1u, 1u, 1024u, 1u, 1u)]
    [TestCase(3u, 2u, 1u, 16u, 8u, 1u)]
    [TestCase(2u, 3u, 2u, 8u, 4u, 4u)]
    [TestCase(1u, 1u, 3u, 32u, 32u, 1u)]
    [TestCase(2u, 1u, 1u, 4u, 4u, 64u)]
    [TestCase(2u, 2u, 2u, 10u, 10u, 10u)]
    [TestCase(7u, 1u, 1u, 1u, 1u, 1u)]
    public void EveryThreadRunsOnceWithItsCoordinates(uint gx, uint gy, uint gz, uint bx, uint by, uint bz)
    {
        var perBlock = (int)(bx * by * bz);
        var total = (int)(gx * gy * gz) * perBlock;
        var hits = EmuHost.Pinned(total, 0);
        var coords = EmuHost.Pinned(total * 6, -1);
        var dims = EmuHost.Pinned(6, -1);
        EmuHost.Launch("emu_selftest_coverage", new Dim3(gx, gy, gz), new Dim3(bx, by, bz), 0,
            EmuHost.Ptr(hits), EmuHost.Ptr(coords), EmuHost.Ptr(dims));

        Assert.That(hits.Count(h => h != 1), Is.Zero, $"threads missing: {hits.Count(h => h == 0)}, run twice or more: {hits.Count(h => h > 1)}");
        Assert.That(dims, Is.EqualTo(new[] { (int)bx, (int)by, (int)bz, (int)gx, (int)gy, (int)gz }));
        for (var g = 0; g < total; g++)
        {
            int t = g % perBlock, b = g / perBlock;
            var expected = new[]
            {
                (int)(t % bx), (int)(t / bx % by), (int)(t / (bx * by)),
                (int)(b % gx), (int)(b / gx % gy), (int)(b / (gx * gy)),
            };
            Assert.That(coords.AsSpan(g * 6, 6).ToArray(), Is.EqualTo(expected), $"global thread {g}");
        }
    }
}
