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
