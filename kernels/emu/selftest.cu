// selftest.cu — small kernels that prove the emulator's CUDA semantics (tests/Sara.Tests/Emulator).
//
// Valid CUDA as well: the same file builds with nvcc/NVRTC, so a GPU run can confirm the expectations.
// Every kernel works on 1-D/2-D/3-D blocks through the linear ids below (x fastest, then y, then z).
#include "../common.cuh"

__device__ __forceinline__ unsigned emu_st_thread_linear()
{
    return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}

__device__ __forceinline__ unsigned emu_st_block_linear()
{
    return blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
}

__device__ __forceinline__ unsigned emu_st_block_threads() { return blockDim.x * blockDim.y * blockDim.z; }

// __syncthreads with threads that return early. 1-D blocks, blockDim.x a multiple of 4 (<= 1024).
// Thread t leaves at round ((n-1-t) % 4) + 1, so the last thread in scheduling order leaves first and the
// barrier is completed by an exit. Round r: write s[t], sync, read the partner (t+4)%n (same exit round), sync.
// out[gid] = sum over the rounds survived of the partner's values.
extern "C" __global__ void emu_selftest_barrier_exit(int* out)
{
    __shared__ int s[1024];
    const int n = (int)blockDim.x;
    const int t = (int)threadIdx.x;
    const int gid = (int)blockIdx.x * n + t;
    int acc = 0;
    for (int r = 0; r < 4; ++r)
    {
        if ((n - 1 - t) % 4 < r)
        {
            out[gid] = acc;
            return;
        }
        s[t] = (r + 1) * 1000000 + (int)blockIdx.x * 1000 + t;
        __syncthreads();
        acc += s[(t + 4) % n];
        __syncthreads();
    }
    out[gid] = acc;
}

// Warp shuffles. Every existing lane of each warp is named in the mask (a partial last warp names only its lanes).
// mode 0: __shfl_sync with srcLane = lane*5 + arg; 1: __shfl_up_sync(arg); 2: __shfl_down_sync(arg);
// 3: __shfl_xor_sync(arg). width == 32 uses the default-width overload.
extern "C" __global__ void emu_selftest_shuffle(const float* in_f, const int* in_i, float* out_f, int* out_i,
    int mode, int arg, int width)
{
    const unsigned n = emu_st_block_threads();
    const unsigned t = emu_st_thread_linear();
    const unsigned gid = emu_st_block_linear() * n + t;
    const unsigned base = t & ~31u;
    const unsigned lanes = n - base < 32u ? n - base : 32u;
    const unsigned mask = lanes == 32u ? 0xffffffffu : (1u << lanes) - 1u;
    const unsigned lane = t & 31u;
    const float vf = in_f[gid];
    const int vi = in_i[gid];
    float rf = vf;
    int ri = vi;
    const bool full = width == 32;
    switch (mode)
    {
    case 0: {
        const int src = (int)(lane * 5u) + arg;
        rf = full ? __shfl_sync(mask, vf, src) : __shfl_sync(mask, vf, src, width);
        ri = full ? __shfl_sync(mask, vi, src) : __shfl_sync(mask, vi, src, width);
        break;
    }
    case 1:
        rf = full ? __shfl_up_sync(mask, vf, (unsigned)arg) : __shfl_up_sync(mask, vf, (unsigned)arg, width);
        ri = full ? __shfl_up_sync(mask, vi, (unsigned)arg) : __shfl_up_sync(mask, vi, (unsigned)arg, width);
        break;
    case 2:
        rf = full ? __shfl_down_sync(mask, vf, (unsigned)arg) : __shfl_down_sync(mask, vf, (unsigned)arg, width);
        ri = full ? __shfl_down_sync(mask, vi, (unsigned)arg) : __shfl_down_sync(mask, vi, (unsigned)arg, width);
        break;
    default:
        rf = full ? __shfl_xor_sync(mask, vf, arg) : __shfl_xor_sync(mask, vf, arg, width);
        ri = full ? __shfl_xor_sync(mask, vi, arg) : __shfl_xor_sync(mask, vi, arg, width);
        break;
    }
    out_f[gid] = rf;
    out_i[gid] = ri;
}

// Votes and warp-synchronous reduction, each warp's existing lanes named: ballot, any, all, and a shuffle-free
// sum through __syncwarp-separated shared writes. out[gid*4 + {0,1,2,3}] = ballot, any, all, warp sum of in.
extern "C" __global__ void emu_selftest_vote(const int* pred, const int* in, int* out)
{
    __shared__ int s[1024];
    const unsigned n = emu_st_block_threads();
    const unsigned t = emu_st_thread_linear();
    const unsigned gid = emu_st_block_linear() * n + t;
    const unsigned base = t & ~31u;
    const unsigned lanes = n - base < 32u ? n - base : 32u;
    const unsigned mask = lanes == 32u ? 0xffffffffu : (1u << lanes) - 1u;
    const int p = pred[gid];
    out[gid * 4 + 0] = (int)__ballot_sync(mask, p);
    out[gid * 4 + 1] = __any_sync(mask, p);
    out[gid * 4 + 2] = __all_sync(mask, p);
    s[t] = in[gid];
    __syncwarp(mask);
    int sum = 0;
    for (unsigned k = 0; k < lanes; ++k) sum += s[base + k];
    out[gid * 4 + 3] = sum;
}

// Static and dynamic __shared__ are private to each block while blocks run concurrently. Each thread writes the
// block's id (static) and its complement (dynamic, n ints), syncs, spins, then checks (every 16th entry per thread,
// all entries together) that the arrays still hold its block's values and that the dynamic area is 16-byte aligned. flags[block] = block + 1, or -(mismatches).
extern "C" __global__ void emu_selftest_shared_private(int* flags, int spin)
{
    __shared__ int s_static[1024];
    __shared__ int s_bad;
    SARA_DYNAMIC_SHARED(int, s_dyn);
    const int n = (int)emu_st_block_threads();
    const int t = (int)emu_st_thread_linear();
    const int b = (int)emu_st_block_linear();
    if (t == 0) s_bad = ((unsigned long long)s_dyn & 15ull) != 0ull ? 1 : 0;
    s_static[t] = b;
    s_dyn[t] = ~b;
    __syncthreads();
    volatile int sink = 0;
    for (int i = 0; i < spin; ++i) sink = sink + i;
    int bad = 0;
    for (int k = t % 16; k < n; k += 16) bad += (s_static[k] != b) + (s_dyn[k] != ~b); // together: every entry
    if (bad) atomicAdd(&s_bad, bad);
    __syncthreads();
    if (t == 0) flags[b] = s_bad == 0 ? b + 1 : -s_bad;
}

// atomicAdd (int, float) and atomicMax (int) under contention: every thread adds `iters` times into one address.
extern "C" __global__ void emu_selftest_atomics(int* icount, float* fones, float* fsum, int* imax,
    const float* vals, const int* ivals, int iters)
{
    const unsigned gid = emu_st_block_linear() * emu_st_block_threads() + emu_st_thread_linear();
    for (int i = 0; i < iters; ++i)
    {
        atomicAdd(icount, 1);
        atomicAdd(fones, 1.0f);
    }
    atomicAdd(fsum, vals[gid]);
    atomicMax(imax, ivals[gid]);
}

// Grid/block coverage: every thread counts its linear global id once and records its coordinates.
// coords[gid*6..] = threadIdx.xyz, blockIdx.xyz; dims = blockDim.xyz, gridDim.xyz (written by gid 0).
extern "C" __global__ void emu_selftest_coverage(int* hits, int* coords, int* dims)
{
    const unsigned gid = emu_st_block_linear() * emu_st_block_threads() + emu_st_thread_linear();
    atomicAdd(&hits[gid], 1);
    coords[gid * 6 + 0] = (int)threadIdx.x;
    coords[gid * 6 + 1] = (int)threadIdx.y;
    coords[gid * 6 + 2] = (int)threadIdx.z;
    coords[gid * 6 + 3] = (int)blockIdx.x;
    coords[gid * 6 + 4] = (int)blockIdx.y;
    coords[gid * 6 + 5] = (int)blockIdx.z;
    if (gid == 0)
    {
        dims[0] = (int)blockDim.x;
        dims[1] = (int)blockDim.y;
        dims[2] = (int)blockDim.z;
        dims[3] = (int)gridDim.x;
        dims[4] = (int)gridDim.y;
        dims[5] = (int)gridDim.z;
    }
}

// Barrier throughput: `iters` rounds of write, sync, read the neighbour, sync (2 * iters barriers).
// out[gid] = sum over rounds of (i + (t+1) % n).
extern "C" __global__ void emu_selftest_barrier_loop(int* out, int iters)
{
    __shared__ int s[1024];
    const int n = (int)emu_st_block_threads();
    const int t = (int)emu_st_thread_linear();
    int acc = 0;
    for (int i = 0; i < iters; ++i)
    {
        s[t] = i + t;
        __syncthreads();
        acc += s[(t + 1) % n];
        __syncthreads();
    }
    out[emu_st_block_linear() * n + t] = acc;
}

// A deliberate deadlock (undefined behaviour on a GPU): thread 0 waits at __syncthreads while thread 1 waits
// for lane 0 in a shuffle. The emulator must report it instead of hanging. Launch with 2 threads.
extern "C" __global__ void emu_selftest_deadlock(int* out)
{
    if (threadIdx.x == 0) __syncthreads();
    else out[0] = __shfl_sync(0x3u, 1, 0);
}

// Thread `which` (linear global id) calls __trap(); the launch must fail with a message.
extern "C" __global__ void emu_selftest_trap(int* out, int which)
{
    const int gid = (int)(emu_st_block_linear() * emu_st_block_threads() + emu_st_thread_linear());
    if (gid == which) __trap();
    out[gid] = gid;
}
