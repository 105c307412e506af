using Sara.Native.Tensors;

namespace Sara.Native.Runtime;

/// <summary>Allocator statistics for a runtime's memory (bytes).</summary>
public readonly record struct MemoryStats(long BytesInUse, long BytesReserved, long PeakInUse, long RawAllocations);

/// <summary>
/// What crossed between host and device, and how often the host waited for the stream: copies to the device, copies to
/// the host, and host waits (Synchronize, every copy to the host, the dense solvers' status reads). Counted by both runtimes.
/// </summary>
public readonly record struct RuntimeCounters(long CopiesToDevice, long CopiesToHost, long HostWaits);

/// <summary>
/// Where kernels run: the real GPU (driver API + cuBLAS + cuSOLVER) or the emulator
/// (host memory + libsara_emu + OpenBLAS + LAPACKE). All matrices are row-major float32 unless stated.
/// Pointers are device pointers on the GPU and host pointers on the emulator.
/// </summary>
public interface IKernelRuntime : IDisposable
{
    /// <summary>Human-readable description, e.g. "cuda:0 NVIDIA H200 (sm_90)" or "emulator (2 threads)".</summary>
    string Description { get; }

    bool IsEmulated { get; }

    /// <summary>The caching allocator over <see cref="AllocRaw"/>: tensors and the runtime's own scratch (solver workspaces) rent from it.</summary>
    MemoryPool Pool { get; }

    /// <summary>The CUstream every launch, copy, memset and library call goes to (see <see cref="RuntimeOptions.Stream"/>).</summary>
    nint Stream { get; }

    /// <summary>The first sticky device fault seen (e.g. CUDA_ERROR_ILLEGAL_ADDRESS), after which the context is unusable; null while healthy.</summary>
    Exception? Fault { get; }

    RuntimeCounters Counters { get; }

    /// <summary>Raw allocation (no caching); the memory pool above caches these.</summary>
    nint AllocRaw(long bytes);
    void FreeRaw(nint ptr);

    /// <summary>Stream-ordered; returns once <paramref name="src"/> may be reused (pageable memory is staged by the driver).</summary>
    void CopyToDevice(nint dst, ReadOnlySpan<byte> src);

    /// <summary>Stream-ordered, then waits for the stream: returns with the data in <paramref name="dst"/>.</summary>
    void CopyToHost(Span<byte> dst, nint src);
    void CopyDeviceToDevice(nint dst, nint src, long bytes);
    void Memset32(nint dst, uint value, long count);
    void Memset16(nint dst, ushort value, long count);

    /// <summary>Launches an extern "C" kernel by name; no device synchronisation inside.</summary>
    void Launch(string kernel, Dim3 grid, Dim3 block, uint dynamicSharedBytes, ReadOnlySpan<KernelArg> args);

    /// <summary>Row-major C[m,n] = alpha * op(A)[m,k] op(B)[k,n] + beta * C with leading dimensions lda/ldb/ldc.</summary>
    void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, nint b, int ldb,
        float beta, nint c, int ldc);

    /// <summary>
    /// <paramref name="batch"/> row-major GEMMs as <see cref="Gemm"/>, item i on a + i strideA, b + i strideB, c + i strideC
    /// (strides in elements): one cublasSgemmStridedBatched on a GPU, a loop of GEMMs on the host.
    /// </summary>
    void GemmStridedBatched(bool transA, bool transB, int m, int n, int k, float alpha, nint a, int lda, long strideA,
        nint b, int ldb, long strideB, float beta, nint c, int ldc, long strideC, int batch);

    /// <summary>
    /// cublasGemmEx's cases, row-major: a and b of one 16-bit type, c of that type or float32; 16-bit values widened
    /// exactly, float32 accumulation (CUBLAS_COMPUTE_32F), a 16-bit c rounded once. Other combinations throw.
    /// </summary>
    void GemmEx(bool transA, bool transB, int m, int n, int k, float alpha, nint a, DType aType, int lda,
        nint b, DType bType, int ldb, float beta, nint c, DType cType, int ldc);

    /// <summary>
    /// Let float32 GEMMs round their inputs to TF32 on tensor cores (GPU only; off by default, so results match the
    /// float64 oracles to float32 rounding). The emulator accepts the setting and keeps computing in full float32.
    /// </summary>
    bool AllowTf32 { get; set; }

    /// <summary>Row-major SVD of a[m,n] (destroyed): s (min(m,n), descending); u[m,min] and vt[min,n] when non-zero.</summary>
    void Gesvd(int m, int n, nint a, nint s, nint u, nint vt);

    /// <summary>In-place Cholesky of the symmetric positive-definite row-major a[n,n]: lower L with A = L L^T (upper part zeroed).</summary>
    void Potrf(int n, nint a);

    /// <summary>Symmetric eigen-decomposition of row-major a[n,n]: w ascending; a's columns become the eigenvectors (a[:,i] goes with w[i]).</summary>
    void Syevd(int n, nint a, nint w);

    /// <summary>
    /// Symmetric eigen-decomposition in float64 of the n x n matrix a (both triangles, symmetric): w (float64) ascending;
    /// afterwards row i of a is the eigenvector of w[i] (the column-major convention of LAPACK, read row-major).
    /// </summary>
    void Dsyevd(int n, nint a, nint w);

    /// <summary>Waits until everything issued to <see cref="Stream"/> so far has finished.</summary>
    void Synchronize();
}
