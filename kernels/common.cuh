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

// ---- 16-bit floats by bit operations (DESIGN 3.1) ------------------------------------------------------------------
// NVRTC here cannot include cuda_bf16.h / cuda_fp16.h, so bf16 and f16 live in unsigned short and convert with integer
// operations only (no dependence on the rounding mode, FTZ or fast-math flags). The bits are PyTorch's scalar
// conversions, and the C# Precision class's (src/Sara.Native/Tensors/Precision.cs), which the tests compare with these
// through kernels/convert.cu on the emulator: round to nearest even, overflow to infinity, subnormals rounded like any
// other value, every NaN to the canonical quiet NaN (bf16 0x7FC0, f16 sign | 0x7E00). Widening is exact (a signalling
// f16 NaN comes back quiet).

__device__ __forceinline__ float sara_bf16_to_float(unsigned short h) { return __uint_as_float((unsigned)h << 16); }

__device__ __forceinline__ unsigned short sara_float_to_bf16(float f)
{
    const unsigned u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)0x7fc0u;
    return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ float sara_f16_to_float(unsigned short h)
{
    const unsigned sign = ((unsigned)h & 0x8000u) << 16, em = (unsigned)h & 0x7fffu;
    if (em >= 0x7c00u) return __uint_as_float(sign | 0x7f800000u | (em << 13) | (em > 0x7c00u ? 0x400000u : 0u));
    if (em >= 0x0400u) return __uint_as_float(sign | ((em << 13) + 0x38000000u));
    const float sub = (float)em * 5.9604644775390625e-8f;   // em * 2^-24, exact (em < 2^10)
    return sign != 0u ? -sub : sub;
}

__device__ __forceinline__ unsigned short sara_float_to_f16(float f)
{
    const unsigned u = __float_as_uint(f);
    const unsigned sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (unsigned short)(sign | 0x7e00u);               // NaN
    if (a >= 0x477ff000u) return (unsigned short)(sign | 0x7c00u);              // >= 65520 and infinity: infinity
    if (a >= 0x38800000u)                                                        // >= 2^-14: a normal half
        return (unsigned short)(sign | (((a + 0xfffu + ((a >> 13) & 1u)) >> 13) - 0x1c000u));
    if (a < 0x33000000u) return (unsigned short)sign;                           // <= 2^-25: zero (the tie rounds to even 0)
    const int shift = 126 - (int)(a >> 23);                                      // subnormal half: 14..24
    const unsigned m = (a & 0x7fffffu) | 0x800000u;
    unsigned r = m >> shift;
    const unsigned rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u))) r++;
    return (unsigned short)(sign | r);
}

// Element types of the conversion and 16-bit kernels' template parameters (Sara.Native.Tensors.DType order).
#define SARA_F32 0
#define SARA_BF16 1
#define SARA_F16 2

// Element i of an array of dtype T, widened to float; and v rounded into element i.
template <int T> __device__ __forceinline__ float sara_load(const void* p, long i)
{
    if (T == SARA_F32) return static_cast<const float*>(p)[i];
    const unsigned short h = static_cast<const unsigned short*>(p)[i];
    return T == SARA_BF16 ? sara_bf16_to_float(h) : sara_f16_to_float(h);
}

template <int T> __device__ __forceinline__ void sara_store(void* p, long i, float v)
{
    if (T == SARA_F32) static_cast<float*>(p)[i] = v;
    else static_cast<unsigned short*>(p)[i] = T == SARA_BF16 ? sara_float_to_bf16(v) : sara_float_to_f16(v);
}

// Four consecutive elements p[i..i+3] of dtype T, widened: one 128-bit load (f32) or one 64-bit load (16-bit).
// p + i must be 16-byte (f32) or 8-byte (16-bit) aligned: sara_aligned16(p) and i a multiple of 4 give both.
template <int T> __device__ __forceinline__ float4 sara_load4(const void* p, long long i)
{
    if (T == SARA_F32) return *reinterpret_cast<const float4*>(static_cast<const float*>(p) + i);
    const uint2 u = *reinterpret_cast<const uint2*>(static_cast<const unsigned short*>(p) + i);
    const unsigned short h[4] = {(unsigned short)(u.x & 0xffffu), (unsigned short)(u.x >> 16),
                                 (unsigned short)(u.y & 0xffffu), (unsigned short)(u.y >> 16)};   // little-endian
    if (T == SARA_BF16)
        return make_float4(sara_bf16_to_float(h[0]), sara_bf16_to_float(h[1]), sara_bf16_to_float(h[2]), sara_bf16_to_float(h[3]));
    return make_float4(sara_f16_to_float(h[0]), sara_f16_to_float(h[1]), sara_f16_to_float(h[2]), sara_f16_to_float(h[3]));
}

// ---- element access --------------------------------------------------------------------------------
// The rank-k kernels read and write float32 activations through these helpers; a 16-bit activation (issue 13) goes
// through sara_load / sara_load4 / sara_store above, the kernels templated on its dtype (lowrank.cu, reduce.cu).
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
