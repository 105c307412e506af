using System.Text;
using Sara.Bindings;

namespace Sara.Native.Runtime;

/// <summary>What the driver says about one CUDA device. <see cref="Query"/> needs cuInit to have succeeded.</summary>
public sealed record CudaDevice(int Ordinal, int Handle, string Name, int ComputeMajor, int ComputeMinor,
    int MultiprocessorCount, long TotalMemoryBytes, int MaxSharedBytesPerBlockOptin, int DriverVersion)
{
    /// <summary>The NVRTC/nvcc target for this device, e.g. "sm_90".</summary>
    public string Arch => $"sm_{ComputeMajor}{ComputeMinor}";

    public override string ToString() => $"cuda:{Ordinal} {Name} ({Arch}, {MultiprocessorCount} SMs, {TotalMemoryBytes / (1L << 30)} GiB)";

    /// <summary>Number of devices the driver sees (cuInit must have been called).</summary>
    public static int Count()
    {
        Cuda.Check(Cuda.cuDeviceGetCount(out var n), "cuDeviceGetCount");
        return n;
    }

    public static unsafe CudaDevice Query(int ordinal)
    {
        var count = Count();
        if (ordinal < 0 || ordinal >= count)
            throw new ArgumentOutOfRangeException(nameof(ordinal), ordinal, $"Device ordinal must be in [0, {count}).");
        Cuda.Check(Cuda.cuDeviceGet(out var dev, ordinal), "cuDeviceGet");
        var name = stackalloc byte[256];
        Cuda.Check(Cuda.cuDeviceGetName(name, 256, dev), "cuDeviceGetName");
        Cuda.Check(Cuda.cuDeviceTotalMem_v2(out var total, dev), "cuDeviceTotalMem_v2");
        Cuda.Check(Cuda.cuDriverGetVersion(out var driver), "cuDriverGetVersion");
        var raw = new ReadOnlySpan<byte>(name, 256);
        var len = raw.IndexOf((byte)0);
        return new CudaDevice(ordinal, dev, Encoding.UTF8.GetString(len < 0 ? raw : raw[..len]),
            Attribute(dev, CUdevice_attribute.ComputeCapabilityMajor),
            Attribute(dev, CUdevice_attribute.ComputeCapabilityMinor),
            Attribute(dev, CUdevice_attribute.MultiprocessorCount),
            (long)total,
            Attribute(dev, CUdevice_attribute.MaxSharedMemoryPerBlockOptin),
            driver);
    }

    /// <summary>The device behind a CUdevice handle (e.g. from cuCtxGetDevice), found by ordinal.</summary>
    public static CudaDevice FromHandle(int handle)
    {
        var count = Count();
        for (var ordinal = 0; ordinal < count; ordinal++)
        {
            Cuda.Check(Cuda.cuDeviceGet(out var dev, ordinal), "cuDeviceGet");
            if (dev == handle) return Query(ordinal);
        }
        throw new ArgumentException($"CUdevice {handle} is none of the driver's {count} devices.", nameof(handle));
    }

    public static int Attribute(int device, CUdevice_attribute attribute)
    {
        Cuda.Check(Cuda.cuDeviceGetAttribute(out var v, attribute, device), "cuDeviceGetAttribute", attribute.ToString());
        return v;
    }
}
