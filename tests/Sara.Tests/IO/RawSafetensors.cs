// Builds safetensors files byte by byte (header text + data), so tests can make corrupt ones.
using System.Text;

namespace Sara.Tests.IO;

internal static class RawSafetensors
{
    /// <summary>8-byte little-endian length of the UTF-8 header, the header, then <paramref name="data"/>.</summary>
    public static byte[] Bytes(string headerJson, byte[] data) => Bytes(Encoding.UTF8.GetBytes(headerJson), data);

    public static byte[] Bytes(byte[] header, byte[] data) =>
        BitConverter.GetBytes((ulong)header.Length).Concat(header).Concat(data).ToArray();

    public static void Write(string path, string headerJson, byte[] data) => File.WriteAllBytes(path, Bytes(headerJson, data));
}
