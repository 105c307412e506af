// losses.cu — loss values and their gradients in one pass; the loss is finished by sara_sum_partials (deterministic).
//
// sara_mse_fwd_bwd   diff = pred - target; grad = (2/N) * diff; partial[block] = sum of diff^2 over the block's elements.
//   Launch: grid G (<= 1024) x block 256, grid-stride; then sara_sum_partials(partial, G, 1/N).
//   Floor: 12 bytes per element (two reads, one write).
// sara_softmax_xent  per row t of logits (T x C): p = softmax(row); loss_row[t] = log(sum exp) - logit[label];
//   grad[t, :] = (p - onehot(label)) / T. One warp per row, 8 rows per 256-thread block: grid ceil(T/8).
//   Then sara_sum_partials(loss_row, T, 1/T). Floor: 8 bytes per logit.
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(256)
sara_mse_fwd_bwd(const float* __restrict__ pred, const float* __restrict__ target, float* __restrict__ grad,
                 float* __restrict__ partial, long n)
{
    __shared__ float red[256];
    const float g = 2.f / (float)n;
    float sum = 0.f;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
    {
        const float d = pred[i] - target[i];
        grad[i] = g * d;
        sum = fmaf(d, d, sum);
    }
    red[threadIdx.x] = sum;
    __syncthreads();
    for (int width = 128; width > 0; width >>= 1)
    {
        if (threadIdx.x < width) red[threadIdx.x] += red[threadIdx.x + width];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = red[0];
}

extern "C" __global__ void __launch_bounds__(256)
sara_softmax_xent(const float* __restrict__ logits, const int* __restrict__ labels, float* __restrict__ grad,
                  float* __restrict__ loss_row, int T, int C)
{
    const int lane = threadIdx.x % 32;
    const int t = blockIdx.x * 8 + threadIdx.x / 32;
    if (t >= T) return;   // whole warps leave together; no block barrier below
    const float* row = logits + (long)t * C;
    float mx = -3.402823466e38f;
    for (int c = lane; c < C; c += 32) mx = fmaxf(mx, row[c]);
    mx = sara_warp_max(mx);
    float se = 0.f;
    for (int c = lane; c < C; c += 32) se += expf(row[c] - mx);
    se = sara_warp_sum(se);
    const int y = labels[t];
    const float inv = 1.f / se, scale = 1.f / (float)T;
    for (int c = lane; c < C; c += 32)
    {
        const float p = expf(row[c] - mx) * inv;
        grad[(long)t * C + c] = (p - (c == y ? 1.f : 0.f)) * scale;
    }
    if (lane == 0) loss_row[t] = logf(se) + mx - row[y];
}
