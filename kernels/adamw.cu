// adamw.cu — AdamW for many parameter tensors in one launch (decoupled weight decay, bias correction).
//
// sara_adamw_batch  for every tensor i < batch.count and element e < batch.n[i]:
//   p -= lr*wd*p;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;  p -= lr * (m/bc1) / (sqrt(v/bc2) + eps)
//   with bc1 = 1 - b1^t, bc2 = 1 - b2^t computed on the host. The tensor table travels by value in the kernel's
//   parameters (SaraAdamWBatch, 2128 bytes: no host-to-device copy, so no stream synchronisation), up to
//   SARA_ADAMW_BATCH tensors per launch: one launch per step for a layer's (or a small model's) parameters.
//   Launch: grid batch.firstBlock[count] blocks of 128 threads; tensor i owns blocks [firstBlock[i], firstBlock[i+1]),
//   each block batch.chunk consecutive elements (a multiple of 128; the host picks it from the total alone so that
//   any batch over 34k elements has >= 264 blocks). Elementwise: the same bits however the blocks are cut.
//   Floor: 28 bytes per element (read p, g, m, v; write p, m, v): SARA at n = m = 4096, k = 64 (524k parameters)
//   -> 14.7 MB, 3.1 us on an H200.
#include "common.cuh"

#define SARA_ADAMW_BATCH 48

struct SaraAdamWBatch
{
    float* p[SARA_ADAMW_BATCH];
    const float* g[SARA_ADAMW_BATCH];
    float* m[SARA_ADAMW_BATCH];
    float* v[SARA_ADAMW_BATCH];
    long long n[SARA_ADAMW_BATCH];
    int firstBlock[SARA_ADAMW_BATCH + 1];
    int count;
    int chunk;
};

extern "C" __global__ void __launch_bounds__(128)
sara_adamw_batch(const SaraAdamWBatch batch, float lr, float beta1, float beta2, float eps, float weight_decay,
                 float bc1, float bc2)
{
    const int b = blockIdx.x;
    int i = 0;
    while (i + 1 < batch.count && b >= batch.firstBlock[i + 1]) i++;   // at most SARA_ADAMW_BATCH steps
    float* __restrict__ p = batch.p[i];
    const float* __restrict__ g = batch.g[i];
    float* __restrict__ m = batch.m[i];
    float* __restrict__ v = batch.v[i];
    const long long begin = (long long)(b - batch.firstBlock[i]) * batch.chunk;
    const long long end = begin + batch.chunk < batch.n[i] ? begin + batch.chunk : batch.n[i];
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
