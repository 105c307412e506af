// lowrank.cu — SARA's rank-k pieces beside the frozen dense GEMM (DESIGN 1.2).
//
// Both kernels are one tiled "skinny GEMM" C[T,k] = L[T,d] * R^T with R given as R[j*rs_j + i*rs_i] (j < k, i < d),
// plus a fused epilogue. Tiles: 64 tokens x 32 ranks per block, 256 threads, each thread owns 4 tokens x 2 ranks;
// the reduction dimension d is walked in chunks of 32 through shared memory.
// Launch: grid (ceil(k/32), ceil(T/64)), block 256, no dynamic shared memory.
//
// sara_lowrank_fwd       H = X B^T (X: T x n, B: k x n),  Z = H (.) lambda    -> H and Z (T x k) saved for backward.
//   Floor: flops 2*T*n*k; bytes 4*(T*n + k*n + 2*T*k). At T=2048, n=1024, k=32: 134 MFLOP, 8.6 MB
//   -> H200: 1.8 us at 4.8 TB/s, 2.0 us at 67 TFLOP/s fp32 (balanced; k/2 flop per byte of X).
// sara_lowrank_bwd_rank  dZ = s * G A (G: T x m, A: m x k), dH = dZ (.) lambda,
//                        dlambda_partial[blockIdx.y, j] = sum over the block's tokens of dZ (.) H
//   (one pass over G; partials are reduced in fixed order by sara_column_sum -> deterministic bits).
//   Floor: flops 2*T*m*k; bytes 4*(T*m + m*k + 3*T*k). Same balance as the forward.
// Optional outputs may be null (dZ, dH, partials; lambda null means dH is not formed).
#include "common.cuh"

#define LR_BT 64   // tokens per block
#define LR_BK 32   // ranks per block
#define LR_BD 32   // reduction chunk
#define LR_TT 4    // tokens per thread
#define LR_TK 2    // ranks per thread

// acc[a][b] = sum_i L[t0 + ty*4 + a, i] * R(j0 + tx*2 + b, i)
__device__ __forceinline__ void lr_tile_product(const float* __restrict__ L, int T, int d,
                                                const float* __restrict__ R, int k, int rs_j, int rs_i,
                                                int t0, int j0, float acc[LR_TT][LR_TK])
{
    __shared__ float Ls[LR_BD][LR_BT + 4];
    __shared__ float Rs[LR_BD][LR_BK + 1];
    const int tid = threadIdx.x;
    const int tx = tid % 16, ty = tid / 16;

    for (int a = 0; a < LR_TT; a++)
        for (int b = 0; b < LR_TK; b++) acc[a][b] = 0.f;

    for (int i0 = 0; i0 < d; i0 += LR_BD)
    {
        // L tile: 64 x 32, 8 elements per thread, coalesced along d; stored transposed.
        for (int e = tid; e < LR_BT * LR_BD; e += 256)
        {
            const int r = e / LR_BD, c = e % LR_BD;
            const int t = t0 + r, i = i0 + c;
            Ls[c][r] = (t < T && i < d) ? L[(long)t * d + i] : 0.f;
        }
        // R tile: 32 ranks x 32, 4 elements per thread; walk the unit-stride index fastest.
        for (int e = tid; e < LR_BK * LR_BD; e += 256)
        {
            int jj, ii;
            if (rs_i == 1) { jj = e / LR_BD; ii = e % LR_BD; }
            else           { ii = e / LR_BK; jj = e % LR_BK; }
            const int j = j0 + jj, i = i0 + ii;
            Rs[ii][jj] = (j < k && i < d) ? R[(long)j * rs_j + (long)i * rs_i] : 0.f;
        }
        __syncthreads();
#pragma unroll 8
        for (int c = 0; c < LR_BD; c++)
        {
            float lv[LR_TT], rv[LR_TK];
            for (int a = 0; a < LR_TT; a++) lv[a] = Ls[c][ty * LR_TT + a];
            for (int b = 0; b < LR_TK; b++) rv[b] = Rs[c][tx * LR_TK + b];
            for (int a = 0; a < LR_TT; a++)
                for (int b = 0; b < LR_TK; b++) acc[a][b] = fmaf(lv[a], rv[b], acc[a][b]);
        }
        __syncthreads();
    }
}

extern "C" __global__ void __launch_bounds__(256)
sara_lowrank_fwd(const float* __restrict__ X, const float* __restrict__ B, const float* __restrict__ lambda,
                 float* __restrict__ H, float* __restrict__ Z, int T, int n, int k)
{
    const int j0 = blockIdx.x * LR_BK, t0 = blockIdx.y * LR_BT;
    float acc[LR_TT][LR_TK];
    lr_tile_product(X, T, n, B, k, n, 1, t0, j0, acc);

    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    for (int a = 0; a < LR_TT; a++)
    {
        const int t = t0 + ty * LR_TT + a;
        if (t >= T) continue;
        for (int b = 0; b < LR_TK; b++)
        {
            const int j = j0 + tx * LR_TK + b;
            if (j >= k) continue;
            H[(long)t * k + j] = acc[a][b];
            Z[(long)t * k + j] = acc[a][b] * lambda[j];
        }
    }
}

extern "C" __global__ void __launch_bounds__(256)
sara_lowrank_bwd_rank(const float* __restrict__ G, const float* __restrict__ A, const float* __restrict__ H,
                      const float* __restrict__ lambda, float s, float* __restrict__ dZ, float* __restrict__ dH,
                      float* __restrict__ dlambda_partial, int T, int m, int k)
{
    __shared__ float red[16][LR_BK];
    const int j0 = blockIdx.x * LR_BK, t0 = blockIdx.y * LR_BT;
    float acc[LR_TT][LR_TK];
    lr_tile_product(G, T, m, A, k, 1, k, t0, j0, acc);

    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    float part[LR_TK] = {0.f, 0.f};
    for (int a = 0; a < LR_TT; a++)
    {
        const int t = t0 + ty * LR_TT + a;
        if (t >= T) continue;
        for (int b = 0; b < LR_TK; b++)
        {
            const int j = j0 + tx * LR_TK + b;
            if (j >= k) continue;
            const long o = (long)t * k + j;
            const float dz = s * acc[a][b];
            if (dZ) dZ[o] = dz;
            if (dH && lambda) dH[o] = dz * lambda[j];
            if (H) part[b] = fmaf(dz, H[o], part[b]);
        }
    }
    if (!dlambda_partial || !H) return;   // uniform across the block: no barrier below is skipped by some threads only
    for (int b = 0; b < LR_TK; b++) red[ty][tx * LR_TK + b] = part[b];
    __syncthreads();
    if (threadIdx.x < LR_BK)
    {
        const int j = j0 + threadIdx.x;
        float sum = 0.f;
        for (int r = 0; r < 16; r++) sum += red[r][threadIdx.x];   // fixed order: deterministic
        if (j < k) dlambda_partial[(long)blockIdx.y * k + j] = sum;
    }
}
