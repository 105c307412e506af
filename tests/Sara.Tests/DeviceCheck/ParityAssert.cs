// ParityAssert.cs — turns a shared parity case's checks into NUnit assertions (test project only).
using Sara.Tests.DeviceCheck.Parity;

namespace Sara.Tests.DeviceCheck;

public static class ParityAssert
{
    public static void AllPass(IReadOnlyList<ParityCheck> checks)
    {
        Assert.That(checks, Is.Not.Empty, "a parity case must compare something");
        foreach (var c in checks) TestContext.Out.WriteLine(c);
        foreach (var c in checks) Assert.That(c.RelativeError, Is.Not.NaN.And.LessThan(c.Tolerance), c.ToString());
    }
}
