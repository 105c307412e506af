// The one error type for malformed safetensors / index / adapter files: names the file and the tensor.
// (System.IO.InvalidDataException is sealed, so this derives from IOException, what file readers catch.)
namespace Sara.Native.IO;

/// <summary>A checkpoint file is malformed. The message names the file and, where one is at fault, the tensor.</summary>
public sealed class SafetensorsFormatException : IOException
{
    /// <summary>The file that failed validation.</summary>
    public string FilePath { get; }

    /// <summary>The tensor at fault, or null when the problem is with the file as a whole.</summary>
    public string? TensorName { get; }

    /// <summary>What is wrong, without the file and tensor prefix.</summary>
    public string Problem { get; }

    public SafetensorsFormatException(string filePath, string? tensorName, string problem, Exception? inner = null)
        : base(Format(filePath, tensorName, problem), inner)
    {
        FilePath = filePath;
        TensorName = tensorName;
        Problem = problem;
    }

    /// <summary>The message, with the path, the name and the problem escaped and shortened (<see cref="SafeText"/>).</summary>
    private static string Format(string filePath, string? tensorName, string problem) =>
        tensorName is null
            ? $"{SafeText.Line(filePath)}: {SafeText.Line(problem)}"
            : $"{SafeText.Line(filePath)}: tensor '{SafeText.Name(tensorName)}': {SafeText.Line(problem)}";
}
