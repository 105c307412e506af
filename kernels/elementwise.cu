// elementwise.cu — small memory-bound helpers around the GEMMs.
//
// sara_add_row_vector  y[r, c] += b[c]                y: rows x cols.       Launch: grid-stride, any 1-D grid, block 256.
// sara_axpby           y[i] = a * x[i] + b * y[i]      n elements.           Launch: grid-stride, any 1-D grid, block 256.
// sara_scale_columns   y[r, c] = x[r, c] * v[c]        rows x cols.          Launch: grid-stride, any 1-D grid, block 256.
// Floors: bytes moved / 4.8 TB/s on an H200 (e.g. bias add at T=2048, m=1024: 16.8 MB -> 3.5 us).
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(256)
sara_add_row_vector(float* __restrict__ y, const float* __restrict__ b, int rows, int cols)
{
    const long n = (long)rows * cols;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        y[i] += b[i % cols];
}

extern "C" __global__ void __launch_bounds__(256)
sara_axpby(float* __restrict__ y, const float* __restrict__ x, float a, float b, long n)
{
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        y[i] = a * x[i] + (b == 0.f ? 0.f : b * y[i]);
}

// 16-bit operands (issue 13): dtypes are kernel arguments (SARA_F32 / SARA_BF16 / SARA_F16, uniform over the grid),
// elements read and rounded through common.cuh's bit-level helpers, arithmetic in float32, one rounding per output.
// sara_add_row_vector_16  y[r, c] = round(y[r, c] + b[c]), y bf16 or f16.          Floor: 4 bytes per element + b.
// sara_axpby_typed        y[i] = round(a * x[i] + b * y[i]), x and y any dtypes.   Floor: 2-12 bytes per element.
template <int Y>
__device__ __forceinline__ void add_row_vector_t(void* __restrict__ y, const float* __restrict__ b, int rows, int cols)
{
    const long n = (long)rows * cols;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        sara_store<Y>(y, i, sara_load<Y>(y, i) + b[i % cols]);
}

extern "C" __global__ void __launch_bounds__(256)
sara_add_row_vector_16(unsigned short* __restrict__ y, int ytype, const float* __restrict__ b, int rows, int cols)
{
    if (ytype == SARA_BF16) add_row_vector_t<SARA_BF16>(y, b, rows, cols);
    else add_row_vector_t<SARA_F16>(y, b, rows, cols);
}

template <int Y, int X>
__device__ __forceinline__ void axpby_t(void* __restrict__ y, const void* __restrict__ x, float a, float b, long n)
{
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        sara_store<Y>(y, i, a * sara_load<X>(x, i) + (b == 0.f ? 0.f : b * sara_load<Y>(y, i)));
}

template <int Y>
__device__ __forceinline__ void axpby_x(void* __restrict__ y, const void* __restrict__ x, int xtype, float a, float b, long n)
{
    if (xtype == SARA_F32) axpby_t<Y, SARA_F32>(y, x, a, b, n);
    else if (xtype == SARA_BF16) axpby_t<Y, SARA_BF16>(y, x, a, b, n);
    else axpby_t<Y, SARA_F16>(y, x, a, b, n);
}

extern "C" __global__ void __launch_bounds__(256)
sara_axpby_typed(void* __restrict__ y, int ytype, const void* __restrict__ x, int xtype, float a, float b, long n)
{
    if (ytype == SARA_F32) axpby_x<SARA_F32>(y, x, xtype, a, b, n);
    else if (ytype == SARA_BF16) axpby_x<SARA_BF16>(y, x, xtype, a, b, n);
    else axpby_x<SARA_F16>(y, x, xtype, a, b, n);
}

extern "C" __global__ void __launch_bounds__(256)
sara_scale_columns(float* __restrict__ y, const float* __restrict__ x, const float* __restrict__ v, int rows, int cols)
{
    const long n = (long)rows * cols;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        y[i] = x[i] * v[i % cols];
}

// sara_relu_fwd  y[i] = max(x[i], 0)                    n elements; grid-stride, block 256. Floor: 8 bytes per element.
// sara_relu_bwd  dx[i] = beta * dx[i] + (y[i] > 0 ? dy[i] : 0)                            Floor: 12-16 bytes per element.
extern "C" __global__ void __launch_bounds__(256)
sara_relu_fwd(float* __restrict__ y, const float* __restrict__ x, long n)
{
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        y[i] = fmaxf(x[i], 0.f);
}

extern "C" __global__ void __launch_bounds__(256)
sara_relu_bwd(float* __restrict__ dx, const float* __restrict__ dy, const float* __restrict__ y, float beta, long n)
{
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
    {
        const float g = y[i] > 0.f ? dy[i] : 0.f;
        dx[i] = beta == 0.f ? g : beta * dx[i] + g;
    }
}
