namespace Sara.Tests.Package;

/// <summary>After the package tests: the temp feed, consumer and bin/obj go, and so do this run's Sara.* copies in the NuGet cache.</summary>
[SetUpFixture]
public sealed class PackageTestCleanup
{
    [OneTimeTearDown]
    public void DeleteTempFolders() => PackedFeed.Delete(QuickstartConsumer.GlobalPackagesFolder());
}
