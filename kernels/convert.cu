// convert.cu — dtype conversions of 2-D blocks (DESIGN 3.1), with the bit-level helpers of common.cuh.
//
// sara_convert_<src>_<dst>  dst[r * ldd + c] = convert(src[r * lds + c]) for r < rows, c < cols; src, dst in
//                            {f32, bf16, f16}, all six ordered pairs. Widening is exact; narrowing rounds to nearest
//                            even with PyTorch's bits. Used by Backend.Convert and by the panels of a mixed-dtype GEMM
//                            (a 16-bit operand widened a slice at a time into float32 scratch; a float32 panel of a
//                            16-bit C rounded back once).
//                            Launch: grid-stride over rows * cols, any 1-D grid, block 256.
//                            Floor: (src + dst element bytes) per element / 4.8 TB/s on an H200 (a 4096 x 256 slice of
//                            a bf16 W0 widened to float32: 6 MiB, 1.3 us).
#include "common.cuh"

template <int S, int D>
__device__ __forceinline__ void sara_convert_2d(void* __restrict__ dst, int ldd, const void* __restrict__ src, int lds, int rows, int cols)
{
    const long n = (long)rows * cols;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
    {
        const long r = i / cols, c = i - r * cols;
        sara_store<D>(dst, r * ldd + c, sara_load<S>(src, r * lds + c));
    }
}

extern "C" __global__ void __launch_bounds__(256)
sara_convert_bf16_f32(void* __restrict__ dst, int ldd, const void* __restrict__ src, int lds, int rows, int cols)
{
    sara_convert_2d<SARA_BF16, SARA_F32>(dst, ldd, src, lds, rows, cols);
}

extern "C" __global__ void __launch_bounds__(256)
sara_convert_f16_f32(void* __restrict__ dst, int ldd, const void* __restrict__ src, int lds, int rows, int cols)
{
    sara_convert_2d<SARA_F16, SARA_F32>(dst, ldd, src, lds, rows, cols);
}

extern "C" __global__ void __launch_bounds__(256)
sara_convert_f32_bf16(void* __restrict__ dst, int ldd, const void* __restrict__ src, int lds, int rows, int cols)
{
    sara_convert_2d<SARA_F32, SARA_BF16>(dst, ldd, src, lds, rows, cols);
}

extern "C" __global__ void __launch_bounds__(256)
sara_convert_f32_f16(void* __restrict__ dst, int ldd, const void* __restrict__ src, int lds, int rows, int cols)
{
    sara_convert_2d<SARA_F32, SARA_F16>(dst, ldd, src, lds, rows, cols);
}

extern "C" __global__ void __launch_bounds__(256)
sara_convert_bf16_f16(void* __restrict__ dst, int ldd, const void* __restrict__ src, int lds, int rows, int cols)
{
    sara_convert_2d<SARA_BF16, SARA_F16>(dst, ldd, src, lds, rows, cols);
}

extern "C" __global__ void __launch_bounds__(256)
sara_convert_f16_bf16(void* __restrict__ dst, int ldd, const void* __restrict__ src, int lds, int rows, int cols)
{
    sara_convert_2d<SARA_F16, SARA_BF16>(dst, ldd, src, lds, rows, cols);
}
