// The CUDA-library bindings the GPU runtime relies on for its context, stream, pool, solver, JIT-log and PTX-fallback paths,
// written as the C# [LibraryImport] declarations read and assigned from the real CUDA 11.8 prototypes: a mismatch is a
// compile error. Run by scripts/check-cuda-bindings.sh (not by CI: the headers come from a 774 MB Debian package).
#include <cuda.h>
#include <cublas_v2.h>
#include <cusolverDn.h>
#include <nvrtc.h>
#include <stddef.h>
#include <stdint.h>
// C#: cuCtxGetCurrent(out nint context)
CUresult (*p1)(CUcontext*) = cuCtxGetCurrent;
// C#: cuCtxGetDevice(out int device)
CUresult (*p2)(CUdevice*) = cuCtxGetDevice;
// C#: cuStreamGetCtx(nint stream, out nint context)
CUresult (*p3)(CUstream, CUcontext*) = cuStreamGetCtx;
// C#: cuMemcpyHtoDAsync_v2(nint dst, void* src, nuint bytes, nint stream)
CUresult (*p4)(CUdeviceptr, const void*, size_t, CUstream) = cuMemcpyHtoDAsync_v2;
// C#: cuMemcpyDtoHAsync_v2(void* dst, nint src, nuint bytes, nint stream)
CUresult (*p5)(void*, CUdeviceptr, size_t, CUstream) = cuMemcpyDtoHAsync_v2;
// C#: cuMemcpyDtoDAsync_v2(nint dst, nint src, nuint bytes, nint stream)
CUresult (*p6)(CUdeviceptr, CUdeviceptr, size_t, CUstream) = cuMemcpyDtoDAsync_v2;
// C#: cuMemsetD32Async(nint dst, uint value, nuint count, nint stream)
CUresult (*p7)(CUdeviceptr, unsigned int, size_t, CUstream) = cuMemsetD32Async;
// C#: cuModuleLoadDataEx(out nint module, void* image, uint numOptions, CUjit_option* options, void** optionValues)
CUresult (*p8)(CUmodule*, const void*, unsigned int, CUjit_option*, void**) = cuModuleLoadDataEx;
// existing, now used for static shared bytes: cuFuncGetAttribute(out int, CUfunction_attribute, nint)
CUresult (*p9)(int*, CUfunction_attribute, CUfunction) = cuFuncGetAttribute;
// C#: cublasStrttp(nint handle, CublasFillMode uplo, int n, nint a, int lda, nint ap)
cublasStatus_t (*p10)(cublasHandle_t, cublasFillMode_t, int, const float*, int, float*) = cublasStrttp;
// C#: cublasStpttr(nint handle, CublasFillMode uplo, int n, nint ap, nint a, int lda)
cublasStatus_t (*p11)(cublasHandle_t, cublasFillMode_t, int, const float*, float*, int) = cublasStpttr;
// C#: nvrtcGetNumSupportedArchs(out int), nvrtcGetSupportedArchs(int*)
nvrtcResult (*p12)(int*) = nvrtcGetNumSupportedArchs;
nvrtcResult (*p13)(int*) = nvrtcGetSupportedArchs;
// C#: cublasSetStream_v2(nint, nint), cusolverDnSetStream(nint, nint): now given the caller's stream
cublasStatus_t (*p14)(cublasHandle_t, cudaStream_t) = cublasSetStream_v2;
cusolverStatus_t (*p15)(cusolverDnHandle_t, cudaStream_t) = cusolverDnSetStream;

_Static_assert(sizeof(CUdeviceptr) == 8 && sizeof(CUstream) == 8 && sizeof(CUcontext) == 8 && sizeof(CUdevice) == 4, "handle sizes");
_Static_assert(sizeof(CUjit_option) == 4 && sizeof(cublasFillMode_t) == 4, "enums are int");
_Static_assert(CU_JIT_INFO_LOG_BUFFER == 3 && CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES == 4 && CU_JIT_ERROR_LOG_BUFFER == 5 &&
               CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES == 6 && CU_JIT_LOG_VERBOSE == 12, "CUjit_option");
_Static_assert(CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES == 1 && CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES == 8, "attrs");
_Static_assert(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN == 97, "optin");
_Static_assert(CUDA_ERROR_EXTERNAL_DEVICE == 911 && CUDA_ERROR_ILLEGAL_ADDRESS == 700 && CUDA_ERROR_LAUNCH_TIMEOUT == 702 &&
               CUDA_ERROR_ASSERT == 710 && CUDA_ERROR_HARDWARE_STACK_ERROR == 714 && CUDA_ERROR_ILLEGAL_INSTRUCTION == 715 &&
               CUDA_ERROR_MISALIGNED_ADDRESS == 716 && CUDA_ERROR_INVALID_ADDRESS_SPACE == 717 && CUDA_ERROR_INVALID_PC == 718 &&
               CUDA_ERROR_LAUNCH_FAILED == 719 && CUDA_ERROR_OUT_OF_MEMORY == 2, "CUresult");
_Static_assert(CUBLAS_FILL_MODE_LOWER == 0 && CUBLAS_FILL_MODE_UPPER == 1, "fill");
_Static_assert((intptr_t)CU_STREAM_LEGACY == 1 && (intptr_t)CU_STREAM_PER_THREAD == 2, "implicit streams");
int main(void) { return 0; }
