/* fake_libcuda.c: a stand-in for libcuda.so.1, built by Support/FakeCudaDriver.cs for the GPU start-failure tests.
 * It answers only the calls GpuRuntime's probe makes before it looks for cuBLAS: cuInit returns SARA_FAKE_CUINIT
 * (default 0 = CUDA_SUCCESS), cuDeviceGetCount reports SARA_FAKE_DEVICE_COUNT devices (default 1). Loaded only in
 * child test processes through SARA_NATIVE_OVERRIDE_cuda, never in the process that runs the real GPU tests. */
#include <stdlib.h>

static int env_int(const char *name, int fallback)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : fallback;
}

int cuInit(unsigned int flags) { (void)flags; return env_int("SARA_FAKE_CUINIT", 0); }

int cuDeviceGetCount(int *count) { *count = env_int("SARA_FAKE_DEVICE_COUNT", 1); return 0; }

int cuDriverGetVersion(int *version) { *version = 12040; return 0; }

int cuGetErrorName(int error, const char **name) { (void)error; (void)name; return 500; /* CUDA_ERROR_NOT_FOUND */ }
