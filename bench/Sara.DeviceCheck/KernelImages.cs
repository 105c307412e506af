// KernelImages.cs — where the GPU's kernel binaries come from. Without --fatbin-dir: whatever the library has (embedded
// fatbin, else NVRTC at first use). With it: each DIR/<name>.fatbin that nvcc built from kernels/<name>.cu is placed in
// the library's kernel cache (a private XDG_CACHE_HOME) under the key NVRTC's own compile of the same embedded source
// would get, so cuModuleLoadData loads nvcc's image. A fatbin whose source differs from the embedded one is not used.
using Sara.Native.Runtime;

namespace Sara.DeviceCheck;

public static class KernelImages
{
    public static string Prepare(string arch, string? fatbinDir)
    {
        if (fatbinDir is null)
            return KernelSources.FatbinFiles.Count > 0 ? $"embedded fatbins ({string.Join(", ", KernelSources.FatbinFiles)})" : $"NVRTC at first use ({arch})";
        if (!Directory.Exists(fatbinDir)) throw new ArgumentException($"--fatbin-dir '{fatbinDir}' does not exist.", nameof(fatbinDir));
        var cache = Path.Combine(Path.GetTempPath(), $"sara-devicecheck-{Environment.ProcessId}");
        Environment.SetEnvironmentVariable("XDG_CACHE_HOME", cache);
        var dir = KernelCompiler.CacheDirectory();
        Directory.CreateDirectory(dir);
        var headers = KernelSources.Headers();
        var used = new List<string>();
        foreach (var src in KernelSources.SourceFiles)
        {
            var fat = Path.Combine(fatbinDir, Path.ChangeExtension(src, ".fatbin"));
            if (!File.Exists(fat)) continue;
            var key = KernelCompiler.CacheKey(KernelSources.ReadText(src), headers, arch);
            File.Copy(fat, Path.Combine(dir, $"{Path.GetFileNameWithoutExtension(src)}-{arch}-{key}.bin"), overwrite: true);
            used.Add(Path.GetFileName(fat));
        }
        var missing = KernelSources.SourceFiles.Count - used.Count;
        return $"nvcc fatbins from {fatbinDir} ({used.Count}: {string.Join(", ", used)})" + (missing > 0 ? $"; NVRTC for the other {missing}" : "");
    }
}
