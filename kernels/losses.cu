// losses.cu — loss values and their gradients in one pass; the loss is finished by sara_sum_partials (deterministic).
//
// sara_mse_fwd_bwd   diff = pred - target; grad = (2/N) * diff; partial[block] = sum of diff^2 over the block's elements.
//   Launch: grid G (<= 1024) x block 256, grid-stride; then sara_sum_partials(partial, G, 1/N).
//   Floor: 12 bytes per element (two reads, one write).
// sara_softmax_xent  per row t of logits (T x C): p = softmax(row); loss_row[t] = log(sum exp) - logit[label];
//   grad[t, :] = (p - onehot(label)) / T. One warp per row, 8 rows per 256-thread block: grid ceil(T/8).
//   Two passes over the row: an online max and sum (one expf per logit: a new maximum rescales the running sum),
//   merged across the warp in a fixed butterfly, then the gradient (one expf per logit).
//   Then sara_sum_partials(loss_row, T, 1/T). Floor: 8 bytes per logit (read, write); the second read comes from L1/L2
//   for rows up to a few hundred KB.
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
    // Online softmax statistics per lane: running maximum mx and sum se of exp(x - mx).
    float mx = -3.402823466e38f, se = 0.f;
    for (int c = lane; c < C; c += 32)
    {
        const float x = row[c];
        if (x > mx)
        {
            se = se * expf(mx - x) + 1.f;
            mx = x;
        }
        else se += expf(x - mx);
    }
    // Merge the lanes' (mx, se) pairs: same butterfly, same bits on every run.
    for (int o = 16; o > 0; o >>= 1)
    {
        const float om = __shfl_xor_sync(SARA_FULL_MASK, mx, o), os = __shfl_xor_sync(SARA_FULL_MASK, se, o);
        const float m = fmaxf(mx, om);
        se = se * expf(mx - m) + os * expf(om - m);
        mx = m;
    }
    const int y = labels[t];
    const float inv = 1.f / se, scale = 1.f / (float)T;
    for (int c = lane; c < C; c += 32)
    {
        const float p = expf(row[c] - mx) * inv;
        grad[(long)t * C + c] = (p - (c == y ? 1.f : 0.f)) * scale;
    }
    if (lane == 0) loss_row[t] = logf(se) + mx - row[y];
}
