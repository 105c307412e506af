// adamw.cu — one fused AdamW step per parameter tensor (decoupled weight decay, bias correction).
//
// sara_adamw  p -= lr*wd*p;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;  p -= lr * (m/bc1) / (sqrt(v/bc2) + eps)
//   with bc1 = 1 - b1^t, bc2 = 1 - b2^t computed on the host. n elements; grid-stride; block 256.
//   Floor: 28 bytes per element (read p, g, m, v; write p, m, v): 1M parameters -> 28 MB, 5.8 us on an H200.
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(256)
sara_adamw(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m, float* __restrict__ v, long n,
           float lr, float beta1, float beta2, float eps, float weight_decay, float bc1, float bc2)
{
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
    {
        const float gi = g[i];
        const float mi = beta1 * m[i] + (1.f - beta1) * gi;
        const float vi = beta2 * v[i] + (1.f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float pi = p[i] * (1.f - lr * weight_decay);
        pi -= lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
        p[i] = pi;
    }
}
