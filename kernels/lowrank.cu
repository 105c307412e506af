// lowrank.cu — SARA's rank-k products beside the frozen dense GEMM (DESIGN 1.2).
//
// Both are a skinny product C[T, k] = L[T, d] R^T (d = n or m, in the thousands; k = 1..256) with a small epilogue,
// in two launches:
//   1. *_partial_kKT  grid (ceil(T/BT), ceil(k/KT), S), block 256. Split-K: block (x, y, z) sums slice z of d
//      (span elements, a multiple of 32) for a BT x KT tile of C into P[z] (P: S x T x k, float32).
//   2. *_finish       grid (ceil(k/KX), row blocks), block KX x (128/KX), KX = lanes along k (16..128). Sums the S
//      partials of each element in slice order (fixed: bitwise deterministic, no atomics) and applies the epilogue.
// The host picks S from the shape alone (so the bits do not depend on the GPU): the fewest slices that give >= 264
// partial blocks (two waves on 132 SMs) when the tiles alone do not. At T = 4096, d = 4096: k = 16: 16 x 1 x 19 = 304
// blocks; k = 32: 32 x 1 x 10 = 320; k = 64: 64 x 1 x 6 = 384. P is then 5-6 MB (fits in L2; read once by the finish).
//
// Partial tile: KT in {16, 32, 64} ranks (the smallest that holds k, so k = 16 has no padding) x BT = 4096 / KT tokens;
// each thread owns 4 tokens x 4 ranks (16 accumulators). d is walked in stages of 32: the next stage's global loads
// are issued into registers before the current stage is computed from shared memory (register double buffering,
// 2 barriers per stage). Global loads are 128-bit (float4) when d (or k for the transposed R) is a multiple of 4 and
// the pointers are 16-byte aligned, scalar with bounds checks otherwise. Stages are stored transposed (d-major) with an
// XOR swizzle of 16-byte groups (column ^ 4 * ((row / 4) % 8)), so the transposed stores of a warp (4 rows x 8 float4)
// hit 32 distinct banks and the compute loop reads each operand as one float4 per thread (per stage and thread:
// 2 shared float4 loads per 16 FMAs). Shared memory: 32 x BT + 32 x max(KT, 32) floats = 36 / 20 / 16 KB;
// __launch_bounds__(256, 2): 88-127 registers, 0 spills, two blocks per SM.
//
// 16-bit activations (issue 13): the *_bf16 / *_f16 partial kernels read L (X or G) as bf16 / f16 through common.cuh's
// bit-level helpers (sara_load4: one 64-bit load per 4 elements), widened to float32 as a stage is fetched; the stage,
// the FMAs, P and the finish are float32, so the only error beside the 16-bit inputs is fp32 accumulation. R is float32:
// SARA's A and B are fp32 master weights; Mo-SARA's frozen 16-bit A is widened by sara_convert into an m x k float32
// scratch first (6 m k bytes: 1.5 MB at m = 4096, k = 64, against 32 MB of a bf16 G at T = 4096; every token tile re-reads
// R from L2 anyway). Floors as below with 2 bytes per element of L: a bf16 X at T = n = 4096 halves the dominant term.
//
// Why not cuBLAS for X B^T and G A: its sgemm has no epilogue for Z = H (.) lambda or dlambda = colsum(dZ (.) H), so
// it would need the same finish pass; the hand-written pair keeps the split and the summation order (and so the bits)
// under our control on every GPU, and runs on the emulator, where CI executes it.
//
// sara_lowrank_fwd_partial_kKT  L = X (T x n), R(j, i) = B[j * n + i] (B: k x n).
// sara_lowrank_fwd_finish       H = sum_z P[z], Z = H (.) lambda           -> H and Z (T x k) saved for backward.
//   Floor (both): flops 2*T*n*k; bytes 4*(T*n + k*n) + 4*T*k*(2*S + 2) (X once, P written and read, H and Z).
//   T = 4096, n = 4096, k = 64 (S = 6): 2.1 GFLOP, 83 MB -> H200 max(32 us at 67 TFLOP/s, 17 us at 4.8 TB/s) = 32 us;
//   k = 16 (S = 19): 0.54 GFLOP, 78 MB -> 16 us (memory bound: X is read once whatever k). The partials are the split's
//   price: 2 * 4 * S * T * k bytes (10 MB at k = 16, 13% over reading X; written and read back through the 50 MB L2).
// sara_lowrank_bwd_partial_kKT  L = G (T x m), R(j, i) = A[i * k + j] (A: m x k, the transposed layout).
// sara_lowrank_bwd_finish       dz = s * sum_z P[z]; dZ = dz, dH = dz (.) lambda, and per row block
//                               dlambda_part[block, j] = sum over its tokens of dz (.) H (finished by sara_column_sum).
//   Floor: flops 2*T*m*k; bytes 4*(T*m + m*k) + 4*T*k*(2*S + 3). Same balance as the forward.
// Optional outputs may be null (dZ, dH, dlambda_part; lambda null means dH is not formed, H null no dlambda_part).
#include "common.cuh"

#define LR_THREADS 256
#define LR_BD 32                                  // elements of d per stage
#define LR_SWZ(c) ((((c) >> 2) & 7) << 2)        // the XOR swizzle of stage row c (a multiple of 4, < 32)

template <int KT>
struct LrTile
{
    static constexpr int BT = 4096 / KT;                          // tokens per block: 256, 128, 64
    static constexpr int NTX = KT / 4;                            // threads along the ranks
    static constexpr int RS = KT < 32 ? 32 : KT;                  // row stride of the R stage (>= 32: swizzle room)
    static constexpr int NL = BT * (LR_BD / 4) / LR_THREADS;      // float4 loads of L per thread and stage: 8, 4, 2
    static constexpr int NR = (KT * (LR_BD / 4) + LR_THREADS - 1) / LR_THREADS;   // of R: 1, 1, 2
};

__device__ __forceinline__ float4 lr_zero4() { return make_float4(0.f, 0.f, 0.f, 0.f); }

// Four consecutive elements p[base + 0..3] of dtype TP, widened, those at or past `valid` as 0 (scalar loads: any alignment).
template <int TP>
__device__ __forceinline__ float4 lr_ld4_tail(const void* __restrict__ p, long long base, int valid)
{
    float4 v = lr_zero4();
    if (valid > 0) v.x = sara_load<TP>(p, base);
    if (valid > 1) v.y = sara_load<TP>(p, base + 1);
    if (valid > 2) v.z = sara_load<TP>(p, base + 2);
    if (valid > 3) v.w = sara_load<TP>(p, base + 3);
    return v;
}

// Issues the global loads of stage i0 into registers (nothing is stored yet). RT: R(j, i) = R[i * k + j]. TL: L's dtype
// (widened to float32 as it is loaded; the stage in shared memory is float32 whatever TL is).
template <int KT, bool RT, int TL>
__device__ __forceinline__ void lr_fetch(const void* __restrict__ L, const float* __restrict__ R, int T, int d, int k,
                                         int t0, int j0, int i0, bool vec, float4 lr[LrTile<KT>::NL], float4 rr[LrTile<KT>::NR])
{
    typedef LrTile<KT> Tile;
    const int tid = threadIdx.x;
#pragma unroll
    for (int q = 0; q < Tile::NL; q++)
    {
        const int e = tid + LR_THREADS * q, r = e >> 3, i = i0 + 4 * (e & 7), t = t0 + r;
        const long long o = (long long)t * d + i;
        lr[q] = (t >= T || i >= d) ? lr_zero4() : vec ? sara_load4<TL>(L, o) : lr_ld4_tail<TL>(L, o, d - i);
    }
#pragma unroll
    for (int q = 0; q < Tile::NR; q++)
    {
        const int e = tid + LR_THREADS * q;
        rr[q] = lr_zero4();
        if (e >= KT * (LR_BD / 4)) continue;
        if (!RT)
        {
            const int j = j0 + (e >> 3), i = i0 + 4 * (e & 7);
            if (j < k && i < d) rr[q] = vec ? sara_ld4(R, (long long)j * d + i) : lr_ld4_tail<SARA_F32>(R, (long long)j * d + i, d - i);
        }
        else
        {
            const int i = i0 + e / (KT / 4), j = j0 + 4 * (e % (KT / 4));
            if (j < k && i < d) rr[q] = vec ? sara_ld4(R, (long long)i * k + j) : lr_ld4_tail<SARA_F32>(R, (long long)i * k + j, k - j);
        }
    }
}

// Stores the fetched stage into shared memory, d-major and swizzled (see the file header).
template <int KT, bool RT>
__device__ __forceinline__ void lr_stage(float* __restrict__ Ls, float* __restrict__ Rs,
                                         const float4 lr[LrTile<KT>::NL], const float4 rr[LrTile<KT>::NR])
{
    typedef LrTile<KT> Tile;
    const int tid = threadIdx.x;
#pragma unroll
    for (int q = 0; q < Tile::NL; q++)
    {
        const int e = tid + LR_THREADS * q, r = e >> 3, c = 4 * (e & 7), col = r ^ LR_SWZ(c);
        Ls[(c + 0) * Tile::BT + col] = lr[q].x;   // LR_SWZ(c + u) == LR_SWZ(c) for u < 4
        Ls[(c + 1) * Tile::BT + col] = lr[q].y;
        Ls[(c + 2) * Tile::BT + col] = lr[q].z;
        Ls[(c + 3) * Tile::BT + col] = lr[q].w;
    }
#pragma unroll
    for (int q = 0; q < Tile::NR; q++)
    {
        const int e = tid + LR_THREADS * q;
        if (e >= KT * (LR_BD / 4)) continue;
        if (!RT)
        {
            const int j = e >> 3, c = 4 * (e & 7), col = j ^ LR_SWZ(c);
            Rs[(c + 0) * Tile::RS + col] = rr[q].x;
            Rs[(c + 1) * Tile::RS + col] = rr[q].y;
            Rs[(c + 2) * Tile::RS + col] = rr[q].z;
            Rs[(c + 3) * Tile::RS + col] = rr[q].w;
        }
        else
        {
            const int c = e / (KT / 4), j = 4 * (e % (KT / 4));
            *reinterpret_cast<float4*>(&Rs[c * Tile::RS + (j ^ LR_SWZ(c))]) = rr[q];
        }
    }
}

// P[blockIdx.z, t, j] = sum over the block's slice of d of L[t, i] R(j, i), for the block's BT x KT tile (L of dtype TL).
template <int KT, bool RT, int TL>
__device__ __forceinline__ void lr_partial(const void* __restrict__ L, const float* __restrict__ R, float* __restrict__ P,
                                           int T, int d, int k, int span)
{
    typedef LrTile<KT> Tile;
    __shared__ __align__(16) float Ls[LR_BD * Tile::BT];
    __shared__ __align__(16) float Rs[LR_BD * Tile::RS];
    const int tid = threadIdx.x, tx = tid % Tile::NTX, ty = tid / Tile::NTX;
    const int t0 = blockIdx.x * Tile::BT, j0 = blockIdx.y * KT;
    const int begin = blockIdx.z * span, end = sara_min(d, begin + span);
    // Uniform over the grid: vector loads need rows of a multiple of 4 elements and 16-byte aligned pointers (a 16-bit
    // L then loads 64 bits at 8-byte aligned offsets).
    const bool vec = sara_aligned16(L) && sara_aligned16(R) && (d & 3) == 0 && (!RT || (k & 3) == 0);

    float acc[4][4];
#pragma unroll
    for (int a = 0; a < 4; a++)
#pragma unroll
        for (int b = 0; b < 4; b++) acc[a][b] = 0.f;

    float4 lr[Tile::NL], rr[Tile::NR];
    lr_fetch<KT, RT, TL>(L, R, T, d, k, t0, j0, begin, vec, lr, rr);
    lr_stage<KT, RT>(Ls, Rs, lr, rr);
    __syncthreads();
    for (int i0 = begin; i0 < end; i0 += LR_BD)
    {
        const bool more = i0 + LR_BD < end;   // uniform across the block
        if (more) lr_fetch<KT, RT, TL>(L, R, T, d, k, t0, j0, i0 + LR_BD, vec, lr, rr);
#pragma unroll 8
        for (int c = 0; c < LR_BD; c++)
        {
            const int s = LR_SWZ(c);
            const float4 lv = *reinterpret_cast<const float4*>(&Ls[c * Tile::BT + ((ty * 4) ^ s)]);
            const float4 rv = *reinterpret_cast<const float4*>(&Rs[c * Tile::RS + ((tx * 4) ^ s)]);
            const float l4[4] = {lv.x, lv.y, lv.z, lv.w};
            const float r4[4] = {rv.x, rv.y, rv.z, rv.w};
#pragma unroll
            for (int a = 0; a < 4; a++)
#pragma unroll
                for (int b = 0; b < 4; b++) acc[a][b] = fmaf(l4[a], r4[b], acc[a][b]);
        }
        __syncthreads();
        if (more)
        {
            lr_stage<KT, RT>(Ls, Rs, lr, rr);
            __syncthreads();
        }
    }

    const int j = j0 + tx * 4;
    if (j >= k) return;   // no barrier below
    const bool vecOut = sara_aligned16(P) && (k & 3) == 0;
#pragma unroll
    for (int a = 0; a < 4; a++)
    {
        const int t = t0 + ty * 4 + a;
        if (t >= T) break;
        const long long o = ((long long)blockIdx.z * T + t) * k + j;
        if (vecOut) sara_st4(P, o, make_float4(acc[a][0], acc[a][1], acc[a][2], acc[a][3]));
        else
#pragma unroll
            for (int b = 0; b < 4; b++)
                if (j + b < k) sara_st(P, o + b, acc[a][b]);
    }
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_fwd_partial_k16(const float* __restrict__ X, const float* __restrict__ B, float* __restrict__ P,
                             int T, int n, int k, int span)
{
    lr_partial<16, false, SARA_F32>(X, B, P, T, n, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_fwd_partial_k32(const float* __restrict__ X, const float* __restrict__ B, float* __restrict__ P,
                             int T, int n, int k, int span)
{
    lr_partial<32, false, SARA_F32>(X, B, P, T, n, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_fwd_partial_k64(const float* __restrict__ X, const float* __restrict__ B, float* __restrict__ P,
                             int T, int n, int k, int span)
{
    lr_partial<64, false, SARA_F32>(X, B, P, T, n, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_fwd_partial_k16_bf16(const unsigned short* __restrict__ X, const float* __restrict__ B, float* __restrict__ P,
                                  int T, int n, int k, int span)
{
    lr_partial<16, false, SARA_BF16>(X, B, P, T, n, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_fwd_partial_k32_bf16(const unsigned short* __restrict__ X, const float* __restrict__ B, float* __restrict__ P,
                                  int T, int n, int k, int span)
{
    lr_partial<32, false, SARA_BF16>(X, B, P, T, n, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_fwd_partial_k64_bf16(const unsigned short* __restrict__ X, const float* __restrict__ B, float* __restrict__ P,
                                  int T, int n, int k, int span)
{
    lr_partial<64, false, SARA_BF16>(X, B, P, T, n, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_fwd_partial_k16_f16(const unsigned short* __restrict__ X, const float* __restrict__ B, float* __restrict__ P,
                                 int T, int n, int k, int span)
{
    lr_partial<16, false, SARA_F16>(X, B, P, T, n, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_fwd_partial_k32_f16(const unsigned short* __restrict__ X, const float* __restrict__ B, float* __restrict__ P,
                                 int T, int n, int k, int span)
{
    lr_partial<32, false, SARA_F16>(X, B, P, T, n, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_fwd_partial_k64_f16(const unsigned short* __restrict__ X, const float* __restrict__ B, float* __restrict__ P,
                                 int T, int n, int k, int span)
{
    lr_partial<64, false, SARA_F16>(X, B, P, T, n, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_bwd_partial_k16(const float* __restrict__ G, const float* __restrict__ A, float* __restrict__ P,
                             int T, int m, int k, int span)
{
    lr_partial<16, true, SARA_F32>(G, A, P, T, m, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_bwd_partial_k32(const float* __restrict__ G, const float* __restrict__ A, float* __restrict__ P,
                             int T, int m, int k, int span)
{
    lr_partial<32, true, SARA_F32>(G, A, P, T, m, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_bwd_partial_k64(const float* __restrict__ G, const float* __restrict__ A, float* __restrict__ P,
                             int T, int m, int k, int span)
{
    lr_partial<64, true, SARA_F32>(G, A, P, T, m, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_bwd_partial_k16_bf16(const unsigned short* __restrict__ G, const float* __restrict__ A, float* __restrict__ P,
                                  int T, int m, int k, int span)
{
    lr_partial<16, true, SARA_BF16>(G, A, P, T, m, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_bwd_partial_k32_bf16(const unsigned short* __restrict__ G, const float* __restrict__ A, float* __restrict__ P,
                                  int T, int m, int k, int span)
{
    lr_partial<32, true, SARA_BF16>(G, A, P, T, m, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_bwd_partial_k64_bf16(const unsigned short* __restrict__ G, const float* __restrict__ A, float* __restrict__ P,
                                  int T, int m, int k, int span)
{
    lr_partial<64, true, SARA_BF16>(G, A, P, T, m, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_bwd_partial_k16_f16(const unsigned short* __restrict__ G, const float* __restrict__ A, float* __restrict__ P,
                                 int T, int m, int k, int span)
{
    lr_partial<16, true, SARA_F16>(G, A, P, T, m, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_bwd_partial_k32_f16(const unsigned short* __restrict__ G, const float* __restrict__ A, float* __restrict__ P,
                                 int T, int m, int k, int span)
{
    lr_partial<32, true, SARA_F16>(G, A, P, T, m, k, span);
}

extern "C" __global__ void __launch_bounds__(256, 2)
sara_lowrank_bwd_partial_k64_f16(const unsigned short* __restrict__ G, const float* __restrict__ A, float* __restrict__ P,
                                 int T, int m, int k, int span)
{
    lr_partial<64, true, SARA_F16>(G, A, P, T, m, k, span);
}

// The finish kernels' element walk: thread (x, y) of block (bx, by) takes rank j = bx * blockDim.x + x and tokens
// t = by * rows + y + blockDim.y * q (q < rows / blockDim.y); `rows` is a multiple of blockDim.y.
// sum = sum over the S slices of P in slice order.
__device__ __forceinline__ float lr_slices_sum(const float* __restrict__ P, int S, int T, int k, int t, int j)
{
    float sum = 0.f;
    for (int z = 0; z < S; z++) sum += sara_ld(P, ((long long)z * T + t) * k + j);
    return sum;
}

extern "C" __global__ void __launch_bounds__(128)
sara_lowrank_fwd_finish(const float* __restrict__ P, int S, const float* __restrict__ lambda, float* __restrict__ H,
                        float* __restrict__ Z, int T, int k, int rows)
{
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= k) return;   // no barrier in this kernel
    const float lam = lambda[j];
    const int tEnd = sara_min(T, (blockIdx.y + 1) * rows);
    for (int t = blockIdx.y * rows + threadIdx.y; t < tEnd; t += blockDim.y)
    {
        const float h = lr_slices_sum(P, S, T, k, t, j);
        const long long o = (long long)t * k + j;
        sara_st(H, o, h);
        sara_st(Z, o, h * lam);
    }
}

extern "C" __global__ void __launch_bounds__(128)
sara_lowrank_bwd_finish(const float* __restrict__ P, int S, const float* __restrict__ H, const float* __restrict__ lambda,
                        float s, float* __restrict__ dZ, float* __restrict__ dH, float* __restrict__ dlambda_part,
                        int T, int k, int rows)
{
    __shared__ float red[128];
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    const float lam = (dH && lambda && j < k) ? lambda[j] : 0.f;
    float part = 0.f;
    if (j < k)
    {
        const int tEnd = sara_min(T, (blockIdx.y + 1) * rows);
        for (int t = blockIdx.y * rows + threadIdx.y; t < tEnd; t += blockDim.y)
        {
            const long long o = (long long)t * k + j;
            const float dz = s * lr_slices_sum(P, S, T, k, t, j);
            if (dZ) sara_st(dZ, o, dz);
            if (dH && lambda) sara_st(dH, o, dz * lam);
            if (H) part = fmaf(dz, sara_ld(H, o), part);
        }
    }
    if (!dlambda_part || !H) return;   // uniform across the block: no barrier below is skipped by some threads only
    red[threadIdx.y * blockDim.x + threadIdx.x] = part;
    __syncthreads();
    if (threadIdx.y == 0 && j < k)
    {
        float sum = 0.f;
        for (int y = 0; y < (int)blockDim.y; y++) sum += red[y * blockDim.x + threadIdx.x];   // fixed order
        dlambda_part[(long long)blockIdx.y * k + j] = sum;
    }
}
