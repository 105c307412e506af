// routing.cu — Mo-SARA's router over the low-rank projection H (DESIGN 1.3). E <= 64 experts, rank k <= 512.
//
// Layouts (row-major float32): H, dZ, lamEff, Z, dH: T x k; Wg, Lambda: E x k; bg: E; gates, dP: T x E.
// Per-token kernels give one warp to a token: lane l owns ranks j = l + 32 i (i < 16) in registers and experts
// e = l and e = 32 + l. Expert dot products over k use a warp reduce-scatter (8 partial sums per lane -> 9 shuffles
// per 8 experts) so logits land on the lane that owns the expert. Every sum runs in a fixed order: same bits each run.
//
// Top-k_r: an expert is kept when fewer than k_r experts beat it, where e' beats e if P[e'] > P[e], or
// P[e'] == P[e] and e' < e (ties: the lower expert index wins). topK = 0 keeps all (dense softmax).
// Kept gates are the softmax over the kept experts (renormalised); dropped gates are exactly 0.
//
// sara_routing_fwd   P = H Wg^T + bg, g = softmax(P) (over kept), lamEff = g Lambda, Z = H (.) lamEff.
//   Launch: grid ceil(T/8), block 256 (8 warps, one token per warp, grid-stride over tokens).
//   Floor: bytes 4*(3*T*k + T*E + 2*E*k); flops 4*T*E*k. T=2048, k=512, E=64: 12.6 MB, 268 MFLOP
//   -> H200: 2.6 us at 4.8 TB/s, 4.0 us at 67 TFLOP/s (compute side at large E; Wg and Lambda are re-read per token
//   from L1/L2, 2*E*k*4 bytes = 256 KB per token at the maximum size).
// sara_routing_bwd_token   per token: dlam = dZ (.) H, dg = dlam Lambda^T (+ balance: dg_e += coef_e),
//   dP = g (.) (dg - sum_e g_e dg_e)  (dropped experts have g = 0, so dP = 0: the softmax-over-kept backward),
//   dH = dZ (.) lamEff + dP Wg. Writes dH and dP (T x E, kept for the parameter gradients).
//   coef_e = balanceScale * topCount[e] when topCount is not null (balanceScale = beta * E / T^2, topCount[e] the
//   number of tokens whose top expert is e): dL_aux/dg_te = beta * E * f_e / T with f_e = topCount[e] / T.
//   Launch: grid ceil(T/8), block 256. Floor: bytes 4*(4*T*k + 2*T*E + 2*E*k); flops 4*T*E*k (as the forward).
// sara_routing_bwd_params  per token chunk c (tokens [c*chunk, (c+1)*chunk)), for the block's 32 ranks:
//   dLambda_part[c] = g^T (dZ (.) H),  dWg_part[c] = dP^T H   (E x k each), finished by sara_column_sum over chunks.
//   Launch: grid (ceil(k/32), chunks), block 256: lane = rank, warp w = experts w, w+8, ... (8 accumulators
//   per array); tokens staged 32 at a time through shared memory. Floor: bytes 4*(2*T*k + 2*T*E + 2*chunks*E*k);
//   flops 4*T*E*k. (Fusing these E x k sums into the per-token kernel would need E*k accumulators per block,
//   256 KB at the maximum size, or float atomics, which are not deterministic.)
//   The host picks chunk = max(1, floor(T / ceil(264 / ceil(k/32)))) tokens from the shape alone (same bits on any
//   GPU): >= 264 blocks once T >= 264. T = 4096: k <= 32 -> 15 tokens, 274 chunks; k = 64 -> 31 tokens, 133 x 2 blocks.
// sara_routing_stats  per chunk: topCount_part[c, e] = tokens whose top gate is e (ties: lower index),
//   gateSum_part[c, e] = sum of g[t, e]; finished by sara_column_sum. Launch: grid chunks, block 256.
#include "common.cuh"

#define RT_MAX_E 64
#define RT_MAX_K 512
#define RT_REGS (RT_MAX_K / 32)   // ranks per lane
#define RT_WARPS 8                // warps per block
#define RT_NEG_INF __uint_as_float(0xff800000u)

// Expert dot products sum_j x[j] M[e, j] for the experts e < E; x is this lane's slice of a k-vector.
// Groups of 8 experts: 8 partials per lane, a reduce-scatter over lane bits 2..0 (7 shuffles) leaves the partial of
// expert base + (lane & 7) on each lane, then an all-reduce over lane bits 3, 4 (2 shuffles). Every expert is summed
// in the same tree shape, so equal rows of M give bit-equal results. Results land on the owning lanes:
// d0 for e = lane, d1 for e = 32 + lane (0 where e >= E).
__device__ __forceinline__ void rt_expert_dots(const float x[RT_REGS], const float* __restrict__ M, int E, int k,
                                               int lane, float& d0, float& d1)
{
    d0 = 0.f;
    d1 = 0.f;
#pragma unroll 1
    for (int base = 0; base < E; base += 8)
    {
        float v[8];
#pragma unroll
        for (int q = 0; q < 8; q++)
        {
            float s = 0.f;
            if (base + q < E)   // warp-uniform
            {
                const float* row = M + (long)(base + q) * k;
#pragma unroll
                for (int i = 0; i < RT_REGS; i++)
                {
                    const int j = lane + 32 * i;
                    if (j < k) s = fmaf(x[i], row[j], s);
                }
            }
            v[q] = s;
        }
#pragma unroll
        for (int w = 4; w > 0; w >>= 1)
        {
            const bool upper = (lane & w) != 0;
#pragma unroll
            for (int i = 0; i < w; i++)
            {
                const float send = upper ? v[i] : v[i + w];
                const float keep = upper ? v[i + w] : v[i];
                v[i] = keep + __shfl_xor_sync(SARA_FULL_MASK, send, w);
            }
        }
        float r = v[0];
        r += __shfl_xor_sync(SARA_FULL_MASK, r, 8);
        r += __shfl_xor_sync(SARA_FULL_MASK, r, 16);
        const int e = base + (lane & 7);
        if (e == lane) d0 = r;
        if (e == 32 + lane) d1 = r;
    }
}

// Loads this lane's slice of row t of a T x k matrix.
__device__ __forceinline__ void rt_load_row(const float* __restrict__ A, long t, int k, int lane, float x[RT_REGS])
{
#pragma unroll
    for (int i = 0; i < RT_REGS; i++)
    {
        const int j = lane + 32 * i;
        x[i] = j < k ? sara_ld(A, t * k + j) : 0.f;
    }
}

// Top-k_r membership of this lane's experts (p0: e = lane, p1: e = 32 + lane): kept when fewer than topK experts
// beat it (higher logit, or equal logit and lower index). E broadcasts.
__device__ __forceinline__ void rt_top_k(float p0, float p1, int lane, int E, int topK, bool& keep0, bool& keep1)
{
    int beaten0 = 0, beaten1 = 0;
    for (int s = 0; s < sara_min(E, 32); s++)   // experts s
    {
        const float q = __shfl_sync(SARA_FULL_MASK, p0, s);
        beaten0 += (q > p0 || (q == p0 && s < lane)) ? 1 : 0;
        beaten1 += (q >= p1) ? 1 : 0;   // s < 32 + lane: a tie goes to s
    }
    for (int s = 0; s < E - 32; s++)            // experts 32 + s
    {
        const float q = __shfl_sync(SARA_FULL_MASK, p1, s);
        beaten0 += (q > p0) ? 1 : 0;    // 32 + s > lane: a tie goes to lane
        beaten1 += (q > p1 || (q == p1 && s < lane)) ? 1 : 0;
    }
    keep0 = keep0 && beaten0 < topK;
    keep1 = keep1 && beaten1 < topK;
}

extern "C" __global__ void __launch_bounds__(256)
sara_routing_fwd(const float* __restrict__ H, const float* __restrict__ Wg, const float* __restrict__ bg,
                 const float* __restrict__ Lambda, float* __restrict__ gates, float* __restrict__ lamEff,
                 float* __restrict__ Z, int T, int E, int k, int topK)
{
    const int lane = threadIdx.x % 32;
    const int e0 = lane, e1 = 32 + lane;
    for (int t = blockIdx.x * RT_WARPS + threadIdx.x / 32; t < T; t += gridDim.x * RT_WARPS)
    {
        float h[RT_REGS];
        rt_load_row(H, t, k, lane, h);

        // Logits, one expert per lane and group; missing experts are -inf (gate 0).
        float p0, p1;
        rt_expert_dots(h, Wg, E, k, lane, p0, p1);
        p0 = e0 < E ? p0 + bg[e0] : RT_NEG_INF;
        p1 = e1 < E ? p1 + bg[e1] : RT_NEG_INF;

        bool keep0 = e0 < E, keep1 = e1 < E;
        if (topK > 0 && topK < E) rt_top_k(p0, p1, lane, E, topK, keep0, keep1);
        // Softmax over the kept experts: the maximum is always kept.
        const float m = sara_warp_max(fmaxf(p0, p1));
        const float x0 = keep0 ? expf(p0 - m) : 0.f;
        const float x1 = keep1 ? expf(p1 - m) : 0.f;
        const float inv = 1.f / sara_warp_sum(x0 + x1);
        const float g0 = x0 * inv, g1 = x1 * inv;
        if (e0 < E) gates[(long)t * E + e0] = g0;
        if (e1 < E) gates[(long)t * E + e1] = g1;

        // lamEff = g Lambda in expert order; dropped experts (g = 0) are skipped (warp-uniform).
        float lam[RT_REGS];
#pragma unroll
        for (int i = 0; i < RT_REGS; i++) lam[i] = 0.f;
        for (int e = 0; e < E; e++)
        {
            const float g = __shfl_sync(SARA_FULL_MASK, e < 32 ? g0 : g1, e % 32);
            if (g == 0.f) continue;
            const float* row = Lambda + (long)e * k;
#pragma unroll
            for (int i = 0; i < RT_REGS; i++)
            {
                const int j = lane + 32 * i;
                if (j < k) lam[i] = fmaf(g, row[j], lam[i]);
            }
        }
#pragma unroll
        for (int i = 0; i < RT_REGS; i++)
        {
            const int j = lane + 32 * i;
            if (j >= k) continue;
            sara_st(lamEff, (long long)t * k + j, lam[i]);
            sara_st(Z, (long long)t * k + j, h[i] * lam[i]);
        }
    }
}

extern "C" __global__ void __launch_bounds__(256)
sara_routing_bwd_token(const float* __restrict__ dZ, const float* __restrict__ H, const float* __restrict__ Wg,
                       const float* __restrict__ Lambda, const float* __restrict__ gates,
                       const float* __restrict__ lamEff, const float* __restrict__ topCount, float balanceScale,
                       float* __restrict__ dH, float* __restrict__ dP, int T, int E, int k)
{
    const int lane = threadIdx.x % 32;
    const int e0 = lane, e1 = 32 + lane;
    for (int t = blockIdx.x * RT_WARPS + threadIdx.x / 32; t < T; t += gridDim.x * RT_WARPS)
    {
        float dz[RT_REGS], dlam[RT_REGS];
        rt_load_row(dZ, t, k, lane, dz);
        rt_load_row(H, t, k, lane, dlam);
#pragma unroll
        for (int i = 0; i < RT_REGS; i++) dlam[i] *= dz[i];

        float dg0, dg1;
        rt_expert_dots(dlam, Lambda, E, k, lane, dg0, dg1);
        if (topCount)
        {
            if (e0 < E) dg0 += balanceScale * topCount[e0];
            if (e1 < E) dg1 += balanceScale * topCount[e1];
        }
        const float g0 = e0 < E ? gates[(long)t * E + e0] : 0.f;
        const float g1 = e1 < E ? gates[(long)t * E + e1] : 0.f;
        const float s = sara_warp_sum(g0 * dg0 + g1 * dg1);
        const float dp0 = g0 * (dg0 - s), dp1 = g1 * (dg1 - s);
        if (e0 < E) dP[(long)t * E + e0] = dp0;
        if (e1 < E) dP[(long)t * E + e1] = dp1;

        // dH = dZ (.) lamEff + dP Wg, experts in order; dropped experts (g = 0, dP = 0) skipped (warp-uniform).
        float dh[RT_REGS];
        rt_load_row(lamEff, t, k, lane, dh);
#pragma unroll
        for (int i = 0; i < RT_REGS; i++) dh[i] *= dz[i];
        for (int e = 0; e < E; e++)
        {
            const int src = e % 32;
            const float g = __shfl_sync(SARA_FULL_MASK, e < 32 ? g0 : g1, src);
            const float dp = __shfl_sync(SARA_FULL_MASK, e < 32 ? dp0 : dp1, src);
            if (g == 0.f) continue;
            const float* row = Wg + (long)e * k;
#pragma unroll
            for (int i = 0; i < RT_REGS; i++)
            {
                const int j = lane + 32 * i;
                if (j < k) dh[i] = fmaf(dp, row[j], dh[i]);
            }
        }
#pragma unroll
        for (int i = 0; i < RT_REGS; i++)
        {
            const int j = lane + 32 * i;
            if (j < k) sara_st(dH, (long long)t * k + j, dh[i]);
        }
    }
}

extern "C" __global__ void __launch_bounds__(256)
sara_routing_bwd_params(const float* __restrict__ dZ, const float* __restrict__ H, const float* __restrict__ gates,
                        const float* __restrict__ dP, float* __restrict__ dLambdaPart, float* __restrict__ dWgPart,
                        int T, int E, int k, int chunk)
{
    __shared__ float sDlam[32][32];
    __shared__ float sH[32][32];
    __shared__ float sG[32][RT_MAX_E];
    __shared__ float sDp[32][RT_MAX_E];
    const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
    const int j = blockIdx.x * 32 + lane;
    const int tBegin = blockIdx.y * chunk, tEnd = sara_min(T, tBegin + chunk);

    float accLam[RT_MAX_E / RT_WARPS], accWg[RT_MAX_E / RT_WARPS];
#pragma unroll
    for (int r = 0; r < RT_MAX_E / RT_WARPS; r++) accLam[r] = accWg[r] = 0.f;

    for (int t0 = tBegin; t0 < tEnd; t0 += 32)
    {
        const int nt = sara_min(32, tEnd - t0);
        for (int idx = tid; idx < 32 * 32; idx += 256)
        {
            const int tt = idx / 32, jj = blockIdx.x * 32 + idx % 32;
            const bool in = tt < nt && jj < k;
            const long o = (long)(t0 + tt) * k + jj;
            const float hv = in ? sara_ld(H, o) : 0.f;
            sH[tt][idx % 32] = hv;
            sDlam[tt][idx % 32] = in ? sara_ld(dZ, o) * hv : 0.f;
        }
        for (int idx = tid; idx < nt * E; idx += 256)
        {
            const int tt = idx / E, e = idx % E;
            const long o = (long)t0 * E + idx;
            sG[tt][e] = gates[o];
            sDp[tt][e] = dP[o];
        }
        __syncthreads();
        for (int tt = 0; tt < nt; tt++)
        {
            const float dl = sDlam[tt][lane], hv = sH[tt][lane];
#pragma unroll
            for (int r = 0; r < RT_MAX_E / RT_WARPS; r++)
            {
                const int e = warp + RT_WARPS * r;
                if (e < E)   // warp-uniform
                {
                    accLam[r] = fmaf(sG[tt][e], dl, accLam[r]);
                    accWg[r] = fmaf(sDp[tt][e], hv, accWg[r]);
                }
            }
        }
        __syncthreads();
    }
    if (j >= k) return;
    const long base = (long)blockIdx.y * E * k;
#pragma unroll
    for (int r = 0; r < RT_MAX_E / RT_WARPS; r++)
    {
        const int e = warp + RT_WARPS * r;
        if (e >= E) continue;
        dLambdaPart[base + (long)e * k + j] = accLam[r];
        dWgPart[base + (long)e * k + j] = accWg[r];
    }
}

extern "C" __global__ void __launch_bounds__(256)
sara_routing_stats(const float* __restrict__ gates, float* __restrict__ topCountPart, float* __restrict__ gateSumPart,
                   int T, int E, int chunk)
{
    __shared__ float sCount[RT_WARPS][RT_MAX_E];
    __shared__ float sSum[RT_WARPS][RT_MAX_E];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int e0 = lane, e1 = 32 + lane;
    const int tBegin = blockIdx.x * chunk, tEnd = sara_min(T, tBegin + chunk);
    float c0 = 0.f, c1 = 0.f, s0 = 0.f, s1 = 0.f;
    for (int t = tBegin + warp; t < tEnd; t += RT_WARPS)
    {
        const float g0 = e0 < E ? gates[(long)t * E + e0] : RT_NEG_INF;
        const float g1 = e1 < E ? gates[(long)t * E + e1] : RT_NEG_INF;
        // Arg-max over (value desc, index asc): lane-local first, then a butterfly on (value, index).
        float best = g0;
        int arg = e0;
        if (g1 > g0) { best = g1; arg = e1; }
        for (int o = 16; o > 0; o >>= 1)
        {
            const float ob = __shfl_xor_sync(SARA_FULL_MASK, best, o);
            const int oa = __shfl_xor_sync(SARA_FULL_MASK, arg, o);
            if (ob > best || (ob == best && oa < arg)) { best = ob; arg = oa; }
        }
        if (e0 < E) { s0 += g0; if (arg == e0) c0 += 1.f; }
        if (e1 < E) { s1 += g1; if (arg == e1) c1 += 1.f; }
    }
    sCount[warp][e0] = c0;
    sCount[warp][e1] = c1;
    sSum[warp][e0] = s0;
    sSum[warp][e1] = s1;
    __syncthreads();
    for (int e = threadIdx.x; e < E; e += 256)
    {
        float c = 0.f, s = 0.f;
        for (int w = 0; w < RT_WARPS; w++) { c += sCount[w][e]; s += sSum[w][e]; }   // fixed order
        topCountPart[(long)blockIdx.x * E + e] = c;
        gateSumPart[(long)blockIdx.x * E + e] = s;
    }
}
