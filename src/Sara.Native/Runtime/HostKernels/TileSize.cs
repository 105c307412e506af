namespace Sara.Native.Runtime.HostKernels;

/// <summary>
/// A tile dimension known when the JIT compiles a kernel: each struct below gives one value, and a kernel generic
/// over it (TRows, TCols) gets its own machine code in which the unused accumulators are removed as dead code.
/// </summary>
internal interface ITileSize
{
    static abstract int Value { get; }
}

internal struct Size1 : ITileSize { public static int Value => 1; }
internal struct Size2 : ITileSize { public static int Value => 2; }
internal struct Size3 : ITileSize { public static int Value => 3; }
internal struct Size4 : ITileSize { public static int Value => 4; }
internal struct Size5 : ITileSize { public static int Value => 5; }
internal struct Size6 : ITileSize { public static int Value => 6; }
internal struct Size7 : ITileSize { public static int Value => 7; }
internal struct Size8 : ITileSize { public static int Value => 8; }
internal struct Size9 : ITileSize { public static int Value => 9; }
internal struct Size10 : ITileSize { public static int Value => 10; }
internal struct Size11 : ITileSize { public static int Value => 11; }
internal struct Size12 : ITileSize { public static int Value => 12; }
