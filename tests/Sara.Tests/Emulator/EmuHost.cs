// Launch helper for the emulator self-tests: pinned host buffers and cuLaunchKernel-style argument packing.
using System.Runtime.InteropServices;
using Sara.Bindings;
using Sara.Native.Runtime;
using Emu = Sara.Bindings.Emulator;

namespace Sara.Tests.Emulator;

internal static unsafe class EmuHost
{
    /// <summary>Fails (never skips) when libsara_emu.so cannot be loaded.</summary>
    public static void RequireLibrary()
    {
        Assert.That(NativeLibraries.IsAvailable(Lib.Emulator), Is.True,
            "libsara_emu.so must be built first: cmake -S kernels/emu -B artifacts/emu-build -DCMAKE_BUILD_TYPE=Release && cmake --build artifacts/emu-build -j2");
    }

    /// <summary>A pinned array whose address the kernels may use for the duration of the test.</summary>
    public static T[] Pinned<T>(int count, T fill) where T : unmanaged
    {
        var a = GC.AllocateArray<T>(count, pinned: true);
        Array.Fill(a, fill);
        return a;
    }

    public static nint Ptr<T>(T[] pinned) where T : unmanaged => Marshal.UnsafeAddrOfPinnedArrayElement(pinned, 0);

    public static nint Function(string name)
    {
        var fn = Emu.GetFunction(name);
        Assert.That(fn, Is.Not.EqualTo((nint)0), $"kernel {name} is not registered in libsara_emu.so");
        return fn;
    }

    /// <summary>Launches like cuLaunchKernel (each params[i] points at an 8-byte slot); returns the status.</summary>
    public static int TryLaunch(nint fn, Dim3 grid, Dim3 block, uint dynamicShared, params KernelArg[] args)
    {
        var n = Math.Max(args.Length, 1);
        var slots = stackalloc KernelArg[n];
        var ptrs = stackalloc nint[n];
        for (var i = 0; i < args.Length; i++)
        {
            slots[i] = args[i];
            ptrs[i] = (nint)(&slots[i]);
        }
        return Emu.Launch(fn, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, dynamicShared, (nint)ptrs);
    }

    /// <summary>Launches by name; returns the status (the message is in Emulator.LastError).</summary>
    public static int TryLaunch(string kernel, Dim3 grid, Dim3 block, uint dynamicShared, params KernelArg[] args)
        => TryLaunch(Function(kernel), grid, block, dynamicShared, args);

    /// <summary>Launches and fails the test with the emulator's message on a non-zero status.</summary>
    public static void Launch(string kernel, Dim3 grid, Dim3 block, uint dynamicShared, params KernelArg[] args)
    {
        var rc = TryLaunch(Function(kernel), grid, block, dynamicShared, args);
        Assert.That(rc, Is.EqualTo(0), () => $"{kernel} failed: {Emu.LastError()}");
    }
}

/// <summary>Device memory from sara_emu_malloc: the emulator's checks and the schedule replay know it.</summary>
internal sealed unsafe class DeviceArray<T> : IDisposable where T : unmanaged
{
    /// <summary>length elements, set to fill (left as the emulator hands them out when null).</summary>
    public DeviceArray(int length, T? fill = null)
    {
        Length = length;
        Ptr = Emu.Malloc((ulong)(length * sizeof(T)));
        Assert.That(Ptr, Is.Not.EqualTo((nint)0), Emu.LastError());
        if (fill is { } f) Span.Fill(f);
    }

    public nint Ptr { get; private set; }
    public int Length { get; }
    public Span<T> Span => new((void*)Ptr, Length);
    public T[] ToArray() => Span.ToArray();

    public void Dispose()
    {
        if (Ptr != 0) Assert.That(Emu.Free(Ptr), Is.Zero, Emu.LastError());
        Ptr = 0;
    }
}
