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

// The schedule made visible: each thread takes a ticket from one counter, so the tickets are the order in which the
// threads (and blocks) ran. Run with one worker; the result depends on the order by design (not for replay).
extern "C" __global__ void emu_selftest_order(int* counter, int* ticket)
{
    const unsigned gid = emu_st_block_linear() * emu_st_block_threads() + emu_st_thread_linear();
    ticket[gid] = atomicAdd(counter, 1);
}

// A race in global memory, which only the schedule replay can see: every thread writes its slot, then reads its
// partner's without any synchronisation. out[gid] = data[gid ^ 1] as the partner left it, or as it was.
extern "C" __global__ void emu_selftest_neighbour(int* data, int* out)
{
    const unsigned gid = emu_st_block_linear() * emu_st_block_threads() + emu_st_thread_linear();
    data[gid] = (int)gid + 1;
    out[gid] = data[gid ^ 1u];
}

// One bug (or one correct pattern) per mode, for the sanitizer's own tests (tests/Sara.Tests/Emulator/SanitizerTests).
// 1-D blocks of at most 256 threads; n = blockDim.x unless said. in/out have n elements per block.
//  0: out[i] = in[i + arg]                       (global out of bounds for arg != 0 at the edges)
//  1: s[t] = in[t]; out[t] = s[(t + 1) % n]      (missing barrier: racecheck)
//  2: out[t] = s[t]                              (never written: initcheck)
//  3: dynamic shared d[t + arg] = in[t], then barrier, out[t] = d[t]   (out of bounds for arg > 0: memcheck)
//  4: threads t < arg wait at one __syncthreads, the others at another (synccheck)
//  5: __shfl_sync whose mask names lane 0 only, called by every lane (synccheck)
//  6: every thread atomicAdd(&c, 1) in shared memory, barrier, out[t] = c      (correct: atomics do not race)
//  7: thread 0 writes c, thread 1 atomicAdd(&c, 1), no barrier between        (racecheck)
//  8: lane 0 calls __ballot_sync, the other lanes __shfl_sync, all with the full mask (synccheck)
//  9: bytes b[t] = t written by neighbouring threads, barrier, out[t] = b[n-1-t]   (correct: no false sharing)
// 10: s[t] = in[t]; __syncwarp(); out[t] = s[t ^ 1]                               (correct within a warp)
// 11: s[t] = in[t]; __syncwarp(); out[t] = s[(t + 32) % n]                        (racecheck: across warps)
extern "C" __global__ void emu_selftest_checks(const float* in, float* out, int mode, int arg)
{
    __shared__ float s[256];
    __shared__ int c;
    __shared__ unsigned char b[256];
    SARA_DYNAMIC_SHARED(float, d);
    const int n = (int)blockDim.x;
    const int t = (int)threadIdx.x;
    const int base = (int)blockIdx.x * n;
    switch (mode)
    {
    case 0: out[base + t] = in[base + t + arg]; break;
    case 1: s[t] = in[base + t]; out[base + t] = s[(t + 1) % n]; break;
    case 2: out[base + t] = s[t]; break;
    case 3:
        d[t + arg] = in[base + t];
        __syncthreads();
        out[base + t] = d[t];
        break;
    case 4:
        if (t < arg) __syncthreads();
        else __syncthreads();
        out[base + t] = 1.f;
        break;
    case 5: out[base + t] = __shfl_sync(1u, in[base + t], 0); break;
    case 6:
        if (t == 0) c = 0;
        __syncthreads();
        atomicAdd(&c, 1);
        __syncthreads();
        out[base + t] = (float)c;
        break;
    case 7:
        if (t == 0) c = 5;
        if (t == 1) atomicAdd(&c, 1);
        out[base + t] = 0.f;
        break;
    case 8:
        out[base + t] = t % 32 == 0 ? (float)__ballot_sync(SARA_FULL_MASK, 1) : __shfl_sync(SARA_FULL_MASK, in[base + t], 0);
        break;
    case 9:
        b[t] = (unsigned char)t;
        __syncthreads();
        out[base + t] = (float)b[n - 1 - t];
        break;
    case 10:
        s[t] = in[base + t];
        __syncwarp();
        out[base + t] = s[t ^ 1];
        break;
    default:
        s[t] = in[base + t];
        __syncwarp();
        out[base + t] = s[(t + 32) % n];
        break;
    }
}

// out[i] = a[i] * b[i] + c[i], written the way kernels write it: nvcc and NVRTC contract it into one fma; the
// emulator does too when built with FMA (sara_emu_fma_contraction).
extern "C" __global__ void emu_selftest_fma(const float* a, const float* b, const float* c, float* out, int n)
{
    const int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (i < n) out[i] = a[i] * b[i] + c[i];
}
