using System.Runtime.InteropServices;

namespace Sara.Native.Runtime;

/// <summary>Grid or block extent, as in CUDA.</summary>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public static implicit operator Dim3(uint x) => new(x);
    public static implicit operator Dim3(int x) => new(checked((uint)x));
    public override string ToString() => $"({X},{Y},{Z})";
}

/// <summary>What a <see cref="KernelArg"/> holds: the kernel parameter type it stands for.</summary>
public enum KernelArgKind
{
    /// <summary>A device pointer (PTX .u64).</summary>
    Pointer,
    /// <summary>A 32-bit int (PTX .u32).</summary>
    Int32,
    /// <summary>A 32-bit float (PTX .f32).</summary>
    Float32,
    /// <summary>A 64-bit integer, C++ long / long long (PTX .u64).</summary>
    Int64,
    /// <summary>A struct passed by value (PTX .align N .b8 name[size]); the argument points at the caller's bytes.</summary>
    Struct,
}

/// <summary>
/// One kernel argument: a value in an 8-byte slot (a 4-byte value sits at the start, little-endian) or, for a struct
/// passed by value, the address of the caller's bytes. Launchers hand cuLaunchKernel (and the emulator) a pointer to
/// each slot, or the struct's address, exactly like kernelParams. The kind and size are kept for checks and censuses.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public readonly struct KernelArg
{
    [FieldOffset(0)] private readonly long _bits;
    [FieldOffset(0)] private readonly int _int;
    [FieldOffset(0)] private readonly float _float;
    [FieldOffset(8)] private readonly KernelArgKind _kind;
    [FieldOffset(12)] private readonly int _size;

    private KernelArg(long bits, KernelArgKind kind, int size) : this()
    {
        _bits = bits;
        _kind = kind;
        _size = size;
    }

    private KernelArg(int value) : this()
    {
        _int = value;
        _kind = KernelArgKind.Int32;
        _size = 4;
    }

    private KernelArg(float value) : this()
    {
        _float = value;
        _kind = KernelArgKind.Float32;
        _size = 4;
    }

    public KernelArgKind Kind => _kind;

    /// <summary>Bytes of the parameter: 8 for pointers and 64-bit integers, 4 for int and float, the struct's size.</summary>
    public int Size => _size;

    /// <summary>The pointer, 64-bit integer, or (for a struct) the address of its bytes.</summary>
    public long Bits => _bits;
    public int AsInt32 => _int;
    public float AsFloat32 => _float;

    public static KernelArg Ptr(nint p) => new((long)p, KernelArgKind.Pointer, 8);
    public static KernelArg Int(int v) => new(v);
    public static KernelArg Float(float v) => new(v);
    public static KernelArg Long(long v) => new(v, KernelArgKind.Int64, 8);

    /// <summary>A struct passed by value: <paramref name="bytes"/> must stay valid (fixed) until the launch returns.</summary>
    public static unsafe KernelArg Struct(void* bytes, int size) => new((long)bytes, KernelArgKind.Struct, size);

    public static implicit operator KernelArg(nint p) => Ptr(p);
    public static implicit operator KernelArg(int v) => Int(v);
    public static implicit operator KernelArg(float v) => Float(v);
    public static implicit operator KernelArg(long v) => Long(v);
}

/// <summary>Fills the void** array for a launch: ptrs[i] points at slots[i], which holds args[i] (or at a struct's bytes).</summary>
internal static unsafe class KernelArgPacker
{
    /// <summary>Callers stackalloc <paramref name="slots"/> and <paramref name="ptrs"/> with args.Length entries.</summary>
    public static void Fill(ReadOnlySpan<KernelArg> args, KernelArg* slots, nint* ptrs)
    {
        for (var i = 0; i < args.Length; i++)
        {
            slots[i] = args[i];
            ptrs[i] = args[i].Kind == KernelArgKind.Struct ? (nint)args[i].Bits : (nint)(&slots[i]);
        }
    }
}
