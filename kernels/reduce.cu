// reduce.cu — deterministic reductions (fixed summation order: same bits on every run, no float atomics).
//
// Column sums out[c] = beta * out[c] + sum_r x[r, c] over x: rows x cols (row-major), in one or two launches:
// the rows are cut into S slices of `slice` rows (the host picks S from the shape alone: 1 when x is under 256 KB,
// else the fewest slices that give >= 264 blocks); with S = 1 the first kernel writes out directly, else it writes
// part[s, c] and sara_column_sum_finish adds the S partials of each column in slice order.
//
// sara_column_sum         wide path (cols >= 32). Grid (ceil(cols / (32 V)), S), block 256 = 8 warps x 32 lanes; lane
//                         l takes columns c0 + V l .. + V-1 (V = 4, 128-bit loads, when cols % 4 == 0 and x is 16-byte
//                         aligned; else V = 1), warp w every 8th row of the slice in order; the 8 warp sums are added
//                         in warp order. T = 4096, m = 4096 (a bias gradient): 32 x 10 = 320 blocks.
// sara_column_sum_narrow  cols < 32 (Mo-SARA's dbg: E = 4). Grid S, block 256: the block reads its rows as one
//                         contiguous run (thread i takes column i % cols of row i / cols, then every (256 / cols)-th
//                         row), so loads are coalesced whatever cols is; per column the 256 / cols thread sums are
//                         added in thread order. T = 4096, E = 4: 64 serial loads per thread (one block).
// sara_column_sum_bf16, sara_column_sum_f16, sara_column_sum_narrow_bf16, sara_column_sum_narrow_f16: the same over a
//                         16-bit x (a bias gradient from a bf16 / f16 G), read through common.cuh's bit-level helpers
//                         (4 columns = one 64-bit load), summed in float32; floor 2*rows*cols bytes.
// sara_column_sum_finish  out[c] = beta * out[c] + sum_s part[s, c] in slice order. Grid ceil(cols / 256), block 256.
//   Floor: reads 4*rows*cols bytes (memory bound): T = 4096, m = 4096 -> 67 MB, 14 us on an H200; the partials
//   (S x cols) add 2 * 4 * S * cols bytes (0.3 MB).
// sara_sum_partials out[0] = scale * sum_i partials[i]            single block of 256 threads, fixed-order tree.
#include "common.cuh"

// Sum of x[r, c .. c + V - 1] over rows r = first, first + step, ... < end, in row order (x of dtype TX, widened).
template <int V, int TX>
__device__ __forceinline__ void col_run(const void* __restrict__ x, int cols, int c, int first, int end, int step, float sum[V])
{
#pragma unroll
    for (int v = 0; v < V; v++) sum[v] = 0.f;
    for (int r = first; r < end; r += step)
    {
        const long long o = (long long)r * cols + c;
        if constexpr (V == 4)
        {
            const float4 q = sara_load4<TX>(x, o);
            sum[0] += q.x;
            sum[1] += q.y;
            sum[2] += q.z;
            sum[3] += q.w;
        }
        else sum[0] += sara_load<TX>(x, o);
    }
}

// The block's 8 warps' sums of its 32 V columns, added in warp order; lane l of warp 0 writes them.
template <int V, int TX>
__device__ __forceinline__ void col_block(const void* __restrict__ x, float* __restrict__ out, float* __restrict__ part,
                                          int rows, int cols, int slice, float beta)
{
    __shared__ float red[8][32 * 4];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int c = (blockIdx.x * 32 + lane) * V;
    const int first = blockIdx.y * slice, end = sara_min(rows, first + slice);
    float sum[V];
    if (c < cols) col_run<V, TX>(x, cols, c, first + warp, end, 8, sum);
    else
#pragma unroll
        for (int v = 0; v < V; v++) sum[v] = 0.f;
#pragma unroll
    for (int v = 0; v < V; v++) red[warp][lane * V + v] = sum[v];
    __syncthreads();
    if (warp != 0) return;   // no barrier below
#pragma unroll
    for (int v = 0; v < V; v++)
    {
        const int cv = c + v;
        if (cv >= cols) break;
        float total = 0.f;
        for (int w = 0; w < 8; w++) total += red[w][lane * V + v];
        if (part) part[(long long)blockIdx.y * cols + cv] = total;
        else out[cv] = (beta == 0.f ? 0.f : beta * out[cv]) + total;
    }
}

template <int TX>
__device__ __forceinline__ void col_wide(const void* __restrict__ x, float* __restrict__ out, float* __restrict__ part, int rows,
                                         int cols, int slice, float beta)
{
    if (sara_aligned16(x) && (cols & 3) == 0) col_block<4, TX>(x, out, part, rows, cols, slice, beta);   // uniform
    else col_block<1, TX>(x, out, part, rows, cols, slice, beta);
}

// part null: write out[c] = beta * out[c] + sum (S = 1); else part[blockIdx.y, c] = the slice's sum.
extern "C" __global__ void __launch_bounds__(256)
sara_column_sum(const float* __restrict__ x, float* __restrict__ out, float* __restrict__ part, int rows, int cols,
                int slice, float beta)
{
    col_wide<SARA_F32>(x, out, part, rows, cols, slice, beta);
}

extern "C" __global__ void __launch_bounds__(256)
sara_column_sum_bf16(const unsigned short* __restrict__ x, float* __restrict__ out, float* __restrict__ part, int rows,
                     int cols, int slice, float beta)
{
    col_wide<SARA_BF16>(x, out, part, rows, cols, slice, beta);
}

extern "C" __global__ void __launch_bounds__(256)
sara_column_sum_f16(const unsigned short* __restrict__ x, float* __restrict__ out, float* __restrict__ part, int rows,
                    int cols, int slice, float beta)
{
    col_wide<SARA_F16>(x, out, part, rows, cols, slice, beta);
}

// cols < 32; part as in sara_column_sum.
template <int TX>
__device__ __forceinline__ void col_narrow(const void* __restrict__ x, float* __restrict__ out, float* __restrict__ part, int rows,
                                           int cols, int slice, float beta)
{
    __shared__ float red[256];
    const int per = 256 / cols;                     // rows per pass
    const int c = threadIdx.x % cols, r0 = threadIdx.x / cols;
    const int first = blockIdx.y * slice, end = sara_min(rows, first + slice);
    float sum = 0.f;
    if (r0 < per)
        for (int r = first + r0; r < end; r += per) sum += sara_load<TX>(x, (long long)r * cols + c);
    red[threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.x >= cols) return;   // no barrier below
    float total = 0.f;
    for (int i = 0; i < per; i++) total += red[i * cols + threadIdx.x];   // thread order: fixed
    if (part) part[(long long)blockIdx.y * cols + threadIdx.x] = total;
    else out[threadIdx.x] = (beta == 0.f ? 0.f : beta * out[threadIdx.x]) + total;
}

extern "C" __global__ void __launch_bounds__(256)
sara_column_sum_narrow(const float* __restrict__ x, float* __restrict__ out, float* __restrict__ part, int rows,
                       int cols, int slice, float beta)
{
    col_narrow<SARA_F32>(x, out, part, rows, cols, slice, beta);
}

extern "C" __global__ void __launch_bounds__(256)
sara_column_sum_narrow_bf16(const unsigned short* __restrict__ x, float* __restrict__ out, float* __restrict__ part, int rows,
                            int cols, int slice, float beta)
{
    col_narrow<SARA_BF16>(x, out, part, rows, cols, slice, beta);
}

extern "C" __global__ void __launch_bounds__(256)
sara_column_sum_narrow_f16(const unsigned short* __restrict__ x, float* __restrict__ out, float* __restrict__ part, int rows,
                           int cols, int slice, float beta)
{
    col_narrow<SARA_F16>(x, out, part, rows, cols, slice, beta);
}

extern "C" __global__ void __launch_bounds__(256)
sara_column_sum_finish(const float* __restrict__ part, int slices, float* __restrict__ out, int cols, float beta)
{
    const int c = blockIdx.x * 256 + threadIdx.x;
    if (c >= cols) return;
    float total = 0.f;
    for (int s = 0; s < slices; s++) total += part[(long long)s * cols + c];
    out[c] = (beta == 0.f ? 0.f : beta * out[c]) + total;
}

extern "C" __global__ void __launch_bounds__(256)
sara_sum_partials(const float* __restrict__ partials, int count, float scale, float* __restrict__ out)
{
    __shared__ float red[256];
    float sum = 0.f;
    for (int i = threadIdx.x; i < count; i += 256) sum += partials[i];
    red[threadIdx.x] = sum;
    __syncthreads();
    for (int width = 128; width > 0; width >>= 1)
    {
        if (threadIdx.x < width) red[threadIdx.x] += red[threadIdx.x + width];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[0] = scale * red[0];
}
