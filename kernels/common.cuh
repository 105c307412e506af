// common.cuh — the only header kernels include. Small helpers shared by every kernel family.
//
// Built three ways (DESIGN 2.1): nvcc, NVRTC (no standard or toolkit headers available), and g++ with
// SARA_EMU defined, where emu/emu.h supplies the CUDA subset (threadIdx, __syncthreads, shuffles, atomics).
#pragma once

#if defined(SARA_EMU)
#include "emu/emu.h"
#endif

#define SARA_FULL_MASK 0xffffffffu

// Dynamic shared memory: `extern __shared__` on CUDA, the block's dynamic area on the emulator.
#if defined(SARA_EMU)
#define SARA_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(::emu::dynamic_shared())
#else
#define SARA_DYNAMIC_SHARED(T, name) extern __shared__ __align__(16) unsigned char name##_raw_[]; \
    T* name = reinterpret_cast<T*>(name##_raw_)
#endif

// Sum over the 32 lanes of a full warp; every lane gets the total.
__device__ __forceinline__ float sara_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(SARA_FULL_MASK, v, o);
    return v;
}

// Max over the 32 lanes of a full warp; every lane gets the result.
__device__ __forceinline__ float sara_warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(SARA_FULL_MASK, v, o));
    return v;
}

__device__ __forceinline__ int sara_min(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ int sara_max(int a, int b) { return a > b ? a : b; }
__device__ __forceinline__ int sara_ceil_div(int a, int b) { return (a + b - 1) / b; }

// ---- element access --------------------------------------------------------------------------------
// The rank-k and routing kernels read and write activations through these helpers only, so a 16-bit activation type
// (bf16/f16 by bit operations, issue 13) needs overloads here and nowhere else. fp32 only for now.
__device__ __forceinline__ float sara_ld(const float* __restrict__ p, long long i) { return p[i]; }
__device__ __forceinline__ void sara_st(float* __restrict__ p, long long i, float v) { p[i] = v; }
// Four consecutive elements p[i..i+3] as one 128-bit access; p + i must be 16-byte aligned (see sara_aligned16).
__device__ __forceinline__ float4 sara_ld4(const float* __restrict__ p, long long i)
{
    return *reinterpret_cast<const float4*>(p + i);
}
__device__ __forceinline__ void sara_st4(float* __restrict__ p, long long i, float4 v)
{
    *reinterpret_cast<float4*>(p + i) = v;
}
__device__ __forceinline__ bool sara_aligned16(const void* p) { return ((unsigned long long)p & 15ull) == 0; }
__device__ __forceinline__ float sara_get(const float4& v, int i) { return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w; }
