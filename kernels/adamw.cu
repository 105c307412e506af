// adamw.cu — AdamW for several parameter tensors in one launch (decoupled weight decay, bias correction).
//
// sara_adamw_batch  for every tensor i < sizes.count and element e < sizes.n[i]:
//   p -= lr*wd*p;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;  p -= lr * (m/bc1) / (sqrt(v/bc2) + eps)
//   with bc1 = 1 - b1^t, bc2 = 1 - b2^t computed on the host. Up to SARA_ADAMW_BATCH (8) tensors per launch: a SARA
//   layer's lambda, A, B and bias (or Mo-SARA's Lambda, Wg, bg) take one launch per step. Each tensor's four buffers are
//   pointer parameters of their own (p0, g0, m0, v0, p1, ...; unused ones null), not fields of a table: the launch
//   needs no host-to-device copy (no stream wait), and tools that track a kernel's buffers through its pointer
//   parameters (the emulator's schedule replay restores them) see every buffer it writes. The sizes travel by value.
//   Launch: grid sizes.firstBlock[count] blocks of 128 threads; tensor i owns blocks [firstBlock[i], firstBlock[i+1]),
//   each block sizes.chunk consecutive elements (a multiple of 128; the host picks it from the total alone so that any
//   batch over 34k elements has >= 264 blocks). Elementwise: the same bits however the blocks are cut.
//   Floor: 28 bytes per element (read p, g, m, v; write p, m, v): SARA at n = m = 4096, k = 64 (524k parameters)
//   -> 14.7 MB, 3.1 us on an H200.
#include "common.cuh"

#define SARA_ADAMW_BATCH 8

struct SaraAdamWSizes
{
    long long n[SARA_ADAMW_BATCH];
    int firstBlock[SARA_ADAMW_BATCH + 1];
    int count;
    int chunk;
};

// Argument i of eight (i is uniform across the block: a branch, no local-memory array).
template <class T>
__device__ __forceinline__ T adamw_pick(int i, T a0, T a1, T a2, T a3, T a4, T a5, T a6, T a7)
{
    switch (i)
    {
    case 0: return a0;
    case 1: return a1;
    case 2: return a2;
    case 3: return a3;
    case 4: return a4;
    case 5: return a5;
    case 6: return a6;
    default: return a7;
    }
}

extern "C" __global__ void __launch_bounds__(128)
sara_adamw_batch(float* __restrict__ p0, const float* __restrict__ g0, float* __restrict__ m0, float* __restrict__ v0,
                 float* __restrict__ p1, const float* __restrict__ g1, float* __restrict__ m1, float* __restrict__ v1,
                 float* __restrict__ p2, const float* __restrict__ g2, float* __restrict__ m2, float* __restrict__ v2,
                 float* __restrict__ p3, const float* __restrict__ g3, float* __restrict__ m3, float* __restrict__ v3,
                 float* __restrict__ p4, const float* __restrict__ g4, float* __restrict__ m4, float* __restrict__ v4,
                 float* __restrict__ p5, const float* __restrict__ g5, float* __restrict__ m5, float* __restrict__ v5,
                 float* __restrict__ p6, const float* __restrict__ g6, float* __restrict__ m6, float* __restrict__ v6,
                 float* __restrict__ p7, const float* __restrict__ g7, float* __restrict__ m7, float* __restrict__ v7,
                 const SaraAdamWSizes sizes, float lr, float beta1, float beta2, float eps, float weight_decay,
                 float bc1, float bc2)
{
    // This block's tensor: the last i whose first block is <= blockIdx.x (unrolled: constant indices, no local copy).
    const int b = blockIdx.x;
    int i = 0, first = sizes.firstBlock[0];
    long long n = sizes.n[0];
#pragma unroll
    for (int q = 1; q < SARA_ADAMW_BATCH; q++)
        if (q < sizes.count && b >= sizes.firstBlock[q])
        {
            i = q;
            first = sizes.firstBlock[q];
            n = sizes.n[q];
        }
    float* __restrict__ p = adamw_pick(i, p0, p1, p2, p3, p4, p5, p6, p7);
    const float* __restrict__ g = adamw_pick(i, g0, g1, g2, g3, g4, g5, g6, g7);
    float* __restrict__ m = adamw_pick(i, m0, m1, m2, m3, m4, m5, m6, m7);
    float* __restrict__ v = adamw_pick(i, v0, v1, v2, v3, v4, v5, v6, v7);
    const long long begin = (long long)(b - first) * sizes.chunk;
    const long long end = begin + sizes.chunk < n ? begin + sizes.chunk : n;
    const float decay = 1.f - lr * weight_decay;
    for (long long e = begin + threadIdx.x; e < end; e += 128)
    {
        const float gi = g[e];
        const float mi = beta1 * m[e] + (1.f - beta1) * gi;
        const float vi = beta2 * v[e] + (1.f - beta2) * gi * gi;
        m[e] = mi;
        v[e] = vi;
        p[e] = p[e] * decay - lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    }
}
