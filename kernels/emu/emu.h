// emu.h — the CUDA device subset on the host (g++ -std=c++20 -DSARA_EMU), for kernels/*.cu.
//
// Included by kernels/common.cuh when SARA_EMU is defined. Each CUDA thread is a fiber; the threads of a
// block run on one OS worker thread, so `__shared__` is `static thread_local` (one block at a time per
// worker). Barriers and warp operations suspend the calling fiber inside the runtime (runtime.cpp).
// The checked (sanitizer) variant of every kernel is compiled with SARA_EMU_CHECKED: its `__shared__` variables
// live in the section the sanitizer watches (one copy; checked launches run their blocks one at a time), each
// wrapped in redzones and registered on first use (see generate.cmake and sanitizer.cpp).
// See kernels/emu/README.md for the execution model and its limits.
#pragma once

#include <atomic>
#include <bit>
#include <cassert>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <math.h>
#include <type_traits>

// ---- qualifiers ------------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __constant__ static
#define __forceinline__ inline __attribute__((always_inline))
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#if defined(SARA_EMU_CHECKED)
#define __shared__ static __attribute__((section("sara_shared")))
#else
#define __shared__ static thread_local
#endif
// __restrict__ is already a g++ keyword. __noinline__ is not provided: libstdc++ uses it as an attribute name.

// ---- vector types ----------------------------------------------------------------------------------
struct __align__(8) float2 { float x, y; };
struct __align__(16) float4 { float x, y, z, w; };
struct float3 { float x, y, z; };
struct __align__(8) int2 { int x, y; };
struct int3 { int x, y, z; };
struct __align__(16) int4 { int x, y, z, w; };
struct __align__(8) uint2 { unsigned x, y; };
struct uint3 { unsigned x, y, z; };
struct __align__(16) uint4 { unsigned x, y, z, w; };
struct __align__(16) double2 { double x, y; };
struct dim3
{
    unsigned x = 1, y = 1, z = 1;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return {x, y, z}; }
};

inline float2 make_float2(float x, float y) { return {x, y}; }
inline float3 make_float3(float x, float y, float z) { return {x, y, z}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int3 make_int3(int x, int y, int z) { return {x, y, z}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return {x, y, z}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }

// ---- runtime interface (runtime.cpp) ----------------------------------------------------------------
namespace emu
{
/// The current block's dynamic shared area: 16-byte aligned, the size given at launch.
__attribute__((visibility("default"))) void* dynamic_shared();

namespace detail
{
#ifndef SARA_EMU_STACK_BYTES
#define SARA_EMU_STACK_BYTES 65536
#endif
/// Each emulated thread's stack: this size, aligned to it, so the running fiber finds its header from its stack pointer.
constexpr std::uintptr_t kStackBytes = SARA_EMU_STACK_BYTES;
static_assert((kStackBytes & (kStackBytes - 1)) == 0, "SARA_EMU_STACK_BYTES must be a power of two");

/// The coordinates shared by all threads of the block a worker is running.
struct BlockInfo
{
    uint3 block_idx;
    uint3 block_dim;
    uint3 grid_dim;
};

/// Lives in the first 4 KiB of every fiber stack, at a 64-byte slot that differs between neighbouring stacks
/// (size-aligned stacks would otherwise put every header, and every stack top, in the same cache set).
struct alignas(64) FiberHeader
{
    uint3 thread_idx;
    unsigned linear;
    const BlockInfo* block;
    void* worker;
};
constexpr std::uintptr_t kHeaderColors = 64;

/// The running fiber's header: no thread-local lookup, just the stack pointer rounded down.
__attribute__((always_inline)) inline FiberHeader& self()
{
    std::uintptr_t sp;
#if defined(__x86_64__)
    asm("movq %%rsp, %0" : "=r"(sp));
#else
    sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
#endif
    const std::uintptr_t base = sp & ~(kStackBytes - 1);
    return *reinterpret_cast<FiberHeader*>(base + (base / kStackBytes % kHeaderColors) * sizeof(FiberHeader));
}

enum class WarpOp : int { Sync, ShflIdx, ShflUp, ShflDown, ShflXor, Ballot, ReduceAdd, ReduceMin, ReduceMax,
    ReduceMinU, ReduceMaxU, ReduceAnd, ReduceOr, ReduceXor, Any, All };

// The call site (file, line) of every barrier and warp operation goes to the runtime: synccheck compares them.
#define SARA_EMU_RT __attribute__((visibility("default")))
SARA_EMU_RT int syncthreads_reduce(int kind, int predicate, const char* file, int line); // kind -1 plain, 0 count, 1 and, 2 or
SARA_EMU_RT std::uint64_t warp_op(WarpOp op, unsigned mask, std::uint64_t value, int arg, int width, const char* file, int line);
SARA_EMU_RT unsigned active_mask();
[[noreturn]] SARA_EMU_RT void trap();

/// Records (once) where a checked __shared__ variable lives, with its name and declaration, for the sanitizer.
SARA_EMU_RT void register_shared(void* padded, std::size_t padded_size, const void* value, std::size_t size, const char* name,
    const char* file, int line);

#if defined(SARA_EMU_CHECKED)
/// A checked __shared__ variable: the kernel's array between two redzones (generate.cmake rewrites each declaration
/// `__shared__ T name[n];` of the checked copy into a Padded<T[n]> and a reference `name` to its value).
constexpr std::size_t kSharedRedzone = 64;
template <class T>
struct alignas(64) Padded
{
    unsigned char head[kSharedRedzone]; // head[0]: set by the runtime once the variable is registered
    T value;
    unsigned char tail[kSharedRedzone];
};

template <class T>
__attribute__((always_inline)) inline T& shared_array(Padded<T>& p, const char* name, const char* file, int line)
{
    register_shared(&p, sizeof(Padded<T>), &p.value, sizeof(T), name, file, line);
    return p.value;
}
#endif

template <class T>
inline std::uint64_t to_bits(T v)
{
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffles move values of at most 8 bytes");
    std::uint64_t b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <class T>
inline T from_bits(std::uint64_t b)
{
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}
} // namespace detail
} // namespace emu

// ---- built-in variables ----------------------------------------------------------------------------
#define threadIdx (static_cast<const uint3&>(::emu::detail::self().thread_idx))
#define blockIdx (static_cast<const uint3&>(::emu::detail::self().block->block_idx))
#define blockDim (static_cast<const uint3&>(::emu::detail::self().block->block_dim))
#define gridDim (static_cast<const uint3&>(::emu::detail::self().block->grid_dim))
constexpr int warpSize = 32;

// ---- synchronisation -------------------------------------------------------------------------------
#define SARA_EMU_SITE const char* file = __builtin_FILE(), int line = __builtin_LINE()
inline void __syncthreads(SARA_EMU_SITE) { ::emu::detail::syncthreads_reduce(-1, 0, file, line); }
inline int __syncthreads_count(int p, SARA_EMU_SITE) { return ::emu::detail::syncthreads_reduce(0, p, file, line); }
inline int __syncthreads_and(int p, SARA_EMU_SITE) { return ::emu::detail::syncthreads_reduce(1, p, file, line); }
inline int __syncthreads_or(int p, SARA_EMU_SITE) { return ::emu::detail::syncthreads_reduce(2, p, file, line); }
inline void __syncwarp(unsigned mask = 0xffffffffu, SARA_EMU_SITE)
{ ::emu::detail::warp_op(::emu::detail::WarpOp::Sync, mask, 0, 0, 32, file, line); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_system() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline unsigned __activemask() { return ::emu::detail::active_mask(); }
[[noreturn]] inline void __trap() { ::emu::detail::trap(); }

// ---- warp shuffles, votes and reductions -----------------------------------------------------------
template <class T>
inline T __shfl_sync(unsigned mask, T v, int srcLane, int width = 32, SARA_EMU_SITE)
{
    using namespace ::emu::detail;
    return from_bits<T>(warp_op(WarpOp::ShflIdx, mask, to_bits(v), srcLane, width, file, line));
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32, SARA_EMU_SITE)
{
    using namespace ::emu::detail;
    return from_bits<T>(warp_op(WarpOp::ShflUp, mask, to_bits(v), static_cast<int>(delta), width, file, line));
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32, SARA_EMU_SITE)
{
    using namespace ::emu::detail;
    return from_bits<T>(warp_op(WarpOp::ShflDown, mask, to_bits(v), static_cast<int>(delta), width, file, line));
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int laneMask, int width = 32, SARA_EMU_SITE)
{
    using namespace ::emu::detail;
    return from_bits<T>(warp_op(WarpOp::ShflXor, mask, to_bits(v), laneMask, width, file, line));
}
inline unsigned __ballot_sync(unsigned mask, int p, SARA_EMU_SITE)
{
    using namespace ::emu::detail;
    return static_cast<unsigned>(warp_op(WarpOp::Ballot, mask, p != 0, 0, 32, file, line));
}
inline int __any_sync(unsigned mask, int p, SARA_EMU_SITE)
{ return static_cast<int>(::emu::detail::warp_op(::emu::detail::WarpOp::Any, mask, p != 0, 0, 32, file, line)); }
inline int __all_sync(unsigned mask, int p, SARA_EMU_SITE)
{ return static_cast<int>(::emu::detail::warp_op(::emu::detail::WarpOp::All, mask, p != 0, 0, 32, file, line)); }
inline unsigned __reduce_add_sync(unsigned mask, unsigned v, SARA_EMU_SITE)
{ return static_cast<unsigned>(::emu::detail::warp_op(::emu::detail::WarpOp::ReduceAdd, mask, v, 0, 32, file, line)); }
inline int __reduce_add_sync(unsigned mask, int v, SARA_EMU_SITE)
{ return static_cast<int>(::emu::detail::warp_op(::emu::detail::WarpOp::ReduceAdd, mask, static_cast<unsigned>(v), 0, 32, file, line)); }
inline int __reduce_min_sync(unsigned mask, int v, SARA_EMU_SITE)
{ return static_cast<int>(::emu::detail::warp_op(::emu::detail::WarpOp::ReduceMin, mask, static_cast<unsigned>(v), 0, 32, file, line)); }
inline int __reduce_max_sync(unsigned mask, int v, SARA_EMU_SITE)
{ return static_cast<int>(::emu::detail::warp_op(::emu::detail::WarpOp::ReduceMax, mask, static_cast<unsigned>(v), 0, 32, file, line)); }
inline unsigned __reduce_min_sync(unsigned mask, unsigned v, SARA_EMU_SITE)
{ return static_cast<unsigned>(::emu::detail::warp_op(::emu::detail::WarpOp::ReduceMinU, mask, v, 0, 32, file, line)); }
inline unsigned __reduce_max_sync(unsigned mask, unsigned v, SARA_EMU_SITE)
{ return static_cast<unsigned>(::emu::detail::warp_op(::emu::detail::WarpOp::ReduceMaxU, mask, v, 0, 32, file, line)); }
inline unsigned __reduce_and_sync(unsigned mask, unsigned v, SARA_EMU_SITE)
{ return static_cast<unsigned>(::emu::detail::warp_op(::emu::detail::WarpOp::ReduceAnd, mask, v, 0, 32, file, line)); }
inline unsigned __reduce_or_sync(unsigned mask, unsigned v, SARA_EMU_SITE)
{ return static_cast<unsigned>(::emu::detail::warp_op(::emu::detail::WarpOp::ReduceOr, mask, v, 0, 32, file, line)); }
inline unsigned __reduce_xor_sync(unsigned mask, unsigned v, SARA_EMU_SITE)
{ return static_cast<unsigned>(::emu::detail::warp_op(::emu::detail::WarpOp::ReduceXor, mask, v, 0, 32, file, line)); }

// ---- atomics (truly atomic across concurrently running blocks) -------------------------------------
namespace emu::detail
{
template <class T>
inline std::atomic_ref<T> aref(T* p) { return std::atomic_ref<T>(*p); }
template <class T, class F>
inline T atomic_update(T* p, F f)
{
    auto a = aref(p);
    T old = a.load(std::memory_order_relaxed);
    while (!a.compare_exchange_weak(old, f(old), std::memory_order_seq_cst, std::memory_order_relaxed)) {}
    return old;
}
} // namespace emu::detail

inline int atomicAdd(int* p, int v) { return ::emu::detail::aref(p).fetch_add(v); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return ::emu::detail::aref(p).fetch_add(v); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return ::emu::detail::aref(p).fetch_add(v); }
inline float atomicAdd(float* p, float v) { return ::emu::detail::aref(p).fetch_add(v); }
inline double atomicAdd(double* p, double v) { return ::emu::detail::aref(p).fetch_add(v); }
inline int atomicSub(int* p, int v) { return ::emu::detail::aref(p).fetch_sub(v); }
inline unsigned atomicSub(unsigned* p, unsigned v) { return ::emu::detail::aref(p).fetch_sub(v); }
inline int atomicExch(int* p, int v) { return ::emu::detail::aref(p).exchange(v); }
inline unsigned atomicExch(unsigned* p, unsigned v) { return ::emu::detail::aref(p).exchange(v); }
inline unsigned long long atomicExch(unsigned long long* p, unsigned long long v) { return ::emu::detail::aref(p).exchange(v); }
inline float atomicExch(float* p, float v) { return ::emu::detail::aref(p).exchange(v); }
inline int atomicMax(int* p, int v) { return ::emu::detail::atomic_update(p, [v](int o) { return o > v ? o : v; }); }
inline unsigned atomicMax(unsigned* p, unsigned v) { return ::emu::detail::atomic_update(p, [v](unsigned o) { return o > v ? o : v; }); }
inline int atomicMin(int* p, int v) { return ::emu::detail::atomic_update(p, [v](int o) { return o < v ? o : v; }); }
inline unsigned atomicMin(unsigned* p, unsigned v) { return ::emu::detail::atomic_update(p, [v](unsigned o) { return o < v ? o : v; }); }
inline int atomicAnd(int* p, int v) { return ::emu::detail::aref(p).fetch_and(v); }
inline unsigned atomicAnd(unsigned* p, unsigned v) { return ::emu::detail::aref(p).fetch_and(v); }
inline int atomicOr(int* p, int v) { return ::emu::detail::aref(p).fetch_or(v); }
inline unsigned atomicOr(unsigned* p, unsigned v) { return ::emu::detail::aref(p).fetch_or(v); }
inline int atomicXor(int* p, int v) { return ::emu::detail::aref(p).fetch_xor(v); }
inline unsigned atomicXor(unsigned* p, unsigned v) { return ::emu::detail::aref(p).fetch_xor(v); }
inline unsigned atomicInc(unsigned* p, unsigned lim)
{ return ::emu::detail::atomic_update(p, [lim](unsigned o) { return o >= lim ? 0u : o + 1; }); }
inline int atomicCAS(int* p, int cmp, int v) { ::emu::detail::aref(p).compare_exchange_strong(cmp, v); return cmp; }
inline unsigned atomicCAS(unsigned* p, unsigned cmp, unsigned v) { ::emu::detail::aref(p).compare_exchange_strong(cmp, v); return cmp; }
inline unsigned long long atomicCAS(unsigned long long* p, unsigned long long cmp, unsigned long long v)
{ ::emu::detail::aref(p).compare_exchange_strong(cmp, v); return cmp; }

// ---- float math and conversions --------------------------------------------------------------------
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return exp10f(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float* s, float* c) { *s = sinf(x); *c = cosf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fdividef(float a, float b) { return a / b; }
inline float fdividef(float a, float b) { return a / b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : (x == x ? x : 0.0f)); }
inline float __int2float_rn(int x) { return static_cast<float>(x); }
inline float __uint2float_rn(unsigned x) { return static_cast<float>(x); }
inline int __float2int_rz(float x) { return static_cast<int>(x); }
inline int __float2int_rn(float x) { return static_cast<int>(nearbyintf(x)); }
inline int __float2int_rd(float x) { return static_cast<int>(floorf(x)); }
inline int __float2int_ru(float x) { return static_cast<int>(ceilf(x)); }
inline unsigned __float2uint_rn(float x) { return static_cast<unsigned>(nearbyintf(x)); }
inline unsigned __float2uint_rz(float x) { return static_cast<unsigned>(x); }

inline unsigned __float_as_uint(float x) { return std::bit_cast<unsigned>(x); }
inline float __uint_as_float(unsigned x) { return std::bit_cast<float>(x); }
inline int __float_as_int(float x) { return std::bit_cast<int>(x); }
inline float __int_as_float(int x) { return std::bit_cast<float>(x); }
inline long long __double_as_longlong(double x) { return std::bit_cast<long long>(x); }
inline double __longlong_as_double(long long x) { return std::bit_cast<double>(x); }

// isfinite / isnan / isinf / signbit for float and double come from <cmath> (global overloads via <math.h>).

// ---- integer intrinsics and min/max ----------------------------------------------------------------
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline unsigned min(int a, unsigned b) { return min(static_cast<unsigned>(a), b); }
inline unsigned max(int a, unsigned b) { return max(static_cast<unsigned>(a), b); }
inline unsigned min(unsigned a, int b) { return min(a, static_cast<unsigned>(b)); }
inline unsigned max(unsigned a, int b) { return max(a, static_cast<unsigned>(b)); }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline double min(float a, double b) { return fmin(a, b); }
inline double max(float a, double b) { return fmax(a, b); }
inline double min(double a, float b) { return fmin(a, b); }
inline double max(double a, float b) { return fmax(a, b); }
inline int __popc(unsigned x) { return std::popcount(x); }
inline int __popcll(unsigned long long x) { return std::popcount(x); }
inline int __clz(int x) { return std::countl_zero(static_cast<unsigned>(x)); }
inline int __clzll(long long x) { return std::countl_zero(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) { return x == 0 ? 0 : std::countr_zero(static_cast<unsigned>(x)) + 1; }
inline int __ffsll(long long x) { return x == 0 ? 0 : std::countr_zero(static_cast<unsigned long long>(x)) + 1; }
inline unsigned __brev(unsigned x)
{
    unsigned r = 0;
    for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
    return r;
}
inline int __mul24(int a, int b) { return a * b; }
inline unsigned __umul24(unsigned a, unsigned b) { return a * b; }
inline int __mulhi(int a, int b) { return static_cast<int>((static_cast<long long>(a) * b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) { return static_cast<unsigned>((static_cast<unsigned long long>(a) * b) >> 32); }

// ---- loads -----------------------------------------------------------------------------------------
template <class T>
inline T __ldg(const T* p) { return *p; }
template <class T>
inline T __ldcs(const T* p) { return *p; }
template <class T>
inline T __ldcg(const T* p) { return *p; }
template <class T>
inline void __stcs(T* p, T v) { *p = v; }
template <class T>
inline void __stcg(T* p, T v) { *p = v; }
