// ParityRun.cs — runs every shared parity case (tests/Sara.Tests/DeviceCheck/Parity) on the GPU backend.
using Sara.Native.Backends;
using Sara.Tests.DeviceCheck.Parity;
using Sara.Tests.Support;

namespace Sara.DeviceCheck;

public sealed record ParityOutcome(int Total, int Passed, List<string> Failed);

public static class ParityRun
{
    public static ParityOutcome Run(Backend backend)
    {
        var seed = Random.Shared.Next();
        Console.WriteLine($"parity: the emulator tests' cases on {backend.Name} (random seed {seed})");
        var rand = new Rand(seed);
        int total = 0, passed = 0;
        var failed = new List<string>();
        foreach (var family in ParityCatalog.All().GroupBy(c => c.Family))
        {
            int familyPassed = 0, familyTotal = 0;
            double worst = 0;
            foreach (var c in family)
            {
                total++;
                familyTotal++;
                try
                {
                    var checks = c.Run(backend, rand);
                    foreach (var k in checks) worst = Math.Max(worst, double.IsNaN(k.RelativeError) ? double.PositiveInfinity : k.RelativeError);
                    var bad = checks.Where(k => !k.Passed).ToList();
                    if (bad.Count == 0 && checks.Count > 0) { passed++; familyPassed++; }
                    else failed.Add($"{c}: {string.Join(", ", bad)}");
                }
                catch (Exception e)
                {
                    failed.Add($"{c}: {e.GetType().Name}: {e.Message}");
                }
            }
            Console.WriteLine($"  {family.Key,-16} {familyPassed,3}/{familyTotal,-3} passed, worst relative error {worst:E2}");
        }
        foreach (var f in failed) Console.WriteLine($"  FAILED {f}");
        return new ParityOutcome(total, passed, failed);
    }
}
