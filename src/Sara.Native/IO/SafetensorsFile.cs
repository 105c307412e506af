// Reader of one .safetensors file (positional reads, and a memory map for GetBytes); the header is fully validated on open.
using System.Buffers;
using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;

namespace Sara.Native.IO;

/// <summary>
/// A .safetensors file opened for reading (a regular file only: see <see cref="RegularFile"/>). Opening costs only the
/// header; each <see cref="ReadFloats(string)"/> converts one tensor through a small buffer of positional reads, so
/// reading a checkpoint tensor by tensor keeps no more of it in memory than the tensor asked for.
/// <see cref="GetBytes"/> views the memory-mapped file. Every header problem is a
/// <see cref="SafetensorsFormatException"/> thrown by <see cref="Open"/>.
/// </summary>
public sealed unsafe class SafetensorsFile : ISafetensorsSource
{
    private const int ChunkElements = 1 << 16;

    private const int CopyChunkBytes = 1 << 20;

    private readonly FileStream _stream;
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;
    private bool _disposed;

    public string Path { get; }
    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Total size of the file in bytes.</summary>
    public long FileLength { get; }

    private SafetensorsFile(string path, long fileLength, FileStream stream, MemoryMappedFile map, MemoryMappedViewAccessor view,
        byte* basePtr, long dataStart, SafetensorsHeader header)
    {
        Path = path;
        FileLength = fileLength;
        _stream = stream;
        _map = map;
        _view = view;
        _base = basePtr;
        _dataStart = dataStart;
        Tensors = header.Tensors;
        Metadata = header.Metadata;
        _byName = header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    public static SafetensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        var stream = RegularFile.OpenRead(full, "safetensors file");
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            long length = stream.Length;
            long dataStart = 8 + ReadHeaderLength(full, stream, length);
            var json = new byte[(int)(dataStart - 8)];
            stream.ReadExactly(json);
            var header = SafetensorsHeader.Parse(full, json, length - dataStart);

            // The stream stays open beside the map: ReadFloats and CopyBytes read through its handle.
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read,
                HandleInheritability.None, leaveOpen: true);
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* ptr = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
            return new SafetensorsFile(full, length, stream, map, view, ptr + view.PointerOffset, dataStart, header);
        }
        catch
        {
            view?.Dispose();
            map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    private static long ReadHeaderLength(string full, FileStream stream, long length)
    {
        if (length < 8)
            throw new SafetensorsFormatException(full, null,
                $"file is {length} bytes; a safetensors file starts with an 8-byte header length");
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > SafetensorsHeader.MaxHeaderBytes)
            throw new SafetensorsFormatException(full, null,
                $"header length {headerLength} is absurd (limit {SafetensorsHeader.MaxHeaderBytes} bytes); the file is corrupt or not safetensors");
        if ((long)headerLength > length - 8)
            throw new SafetensorsFormatException(full, null,
                $"header length {headerLength} runs past the end of the file ({length} bytes)");
        return (long)headerLength;
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public SafetensorsTensorInfo GetInfo(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _byName.TryGetValue(name, out var info)
            ? info
            : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");
    }

    public float[] ReadFloats(string name)
    {
        var info = GetInfo(name);
        if (!SafetensorsDTypes.IsReadableAsFloat(info.DType))
            throw new NotSupportedException(
                $"{Path}: tensor '{name}' is {SafetensorsDTypes.ToHeaderName(info.DType)}; only F32, F16, BF16 and F64 read as float");
        long count = info.ElementCount;
        if (count > Array.MaxLength)
            throw new NotSupportedException($"{Path}: tensor '{name}' has {count} elements, more than one float[] holds");
        var result = new float[count];
        ReadFloats(info, result);
        return result;
    }

    /// <summary>Converts tensor <paramref name="name"/> into <paramref name="destination"/> (exactly its element count).</summary>
    public void ReadFloats(string name, Span<float> destination)
    {
        var info = GetInfo(name);
        if (destination.Length != info.ElementCount)
            throw new ArgumentException(
                $"destination holds {destination.Length} floats; tensor '{name}' {info.ShapeText} has {info.ElementCount}", nameof(destination));
        ReadFloats(info, destination);
    }

    /// <summary>The raw little-endian bytes of a tensor (up to 2 GiB), valid until the file is disposed.</summary>
    public ReadOnlySpan<byte> GetBytes(string name)
    {
        var info = GetInfo(name);
        if (info.ByteLength > int.MaxValue)
            throw new NotSupportedException($"{Path}: tensor '{name}' is {info.ByteLength} bytes; use ReadFloats");
        return new ReadOnlySpan<byte>(Pointer(info.DataBegin), (int)info.ByteLength);
    }

    /// <summary>
    /// Reads <paramref name="destination"/>.Length raw bytes of tensor <paramref name="name"/> from <paramref name="byteOffset"/>
    /// (a positional read, like the rest of the reader): how 16-bit weights reach a backend without a float32 copy.
    /// </summary>
    public void ReadBytes(string name, long byteOffset, Span<byte> destination)
    {
        var info = GetInfo(name);
        if (byteOffset < 0 || byteOffset + destination.Length > info.ByteLength)
            throw new ArgumentOutOfRangeException(nameof(byteOffset), $"{Path}: bytes [{byteOffset}, {byteOffset + destination.Length}) lie outside tensor '{name}' ({info.ByteLength} bytes)");
        ReadAt(info.DataBegin + byteOffset, destination);
    }

    /// <summary>Copies the raw bytes of tensor <paramref name="name"/> to <paramref name="destination"/> (any size, 1 MiB at a time).</summary>
    public void CopyBytes(string name, Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var info = GetInfo(name);
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(CopyChunkBytes, Math.Max(1, info.ByteLength)));
        try
        {
            for (long done = 0; done < info.ByteLength;)
            {
                int n = (int)Math.Min(buffer.Length, info.ByteLength - done);
                ReadAt(info.DataBegin + done, buffer.AsSpan(0, n));
                destination.Write(buffer, 0, n);
                done += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void ReadFloats(SafetensorsTensorInfo info, Span<float> destination)
    {
        int size = SafetensorsDTypes.SizeOf(info.DType);
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkElements * size);
        try
        {
            for (int start = 0; start < destination.Length; start += ChunkElements)
            {
                int n = Math.Min(ChunkElements, destination.Length - start);
                var src = buffer.AsSpan(0, n * size);
                ReadAt(info.DataBegin + (long)start * size, src);
                FloatConversions.Decode(info.DType, src, destination.Slice(start, n));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Fills <paramref name="buffer"/> from the data section at <paramref name="dataOffset"/> (validated to lie in the file).</summary>
    private void ReadAt(long dataOffset, Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long position = _dataStart + dataOffset;
        while (buffer.Length > 0)
        {
            int read = RandomAccess.Read(_stream.SafeFileHandle, buffer, position);
            if (read == 0) throw new SafetensorsFormatException(Path, null, $"the file ended at byte {position} while reading (it shrank after it was opened)");
            buffer = buffer[read..];
            position += read;
        }
    }

    private byte* Pointer(long dataOffset)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _base + _dataStart + dataOffset;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
        _stream.Dispose();
    }
}
