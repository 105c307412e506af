// svd.cu — the non-GEMM pieces of the randomized truncated SVD (DESIGN 1.4). GEMMs go to cuBLAS; these kernels do the
// rest. All reductions run in a fixed order (same bits on every run); l is the sketch width (k + oversampling, <= 1024).
//
// sara_svd_sum_squares        partials[2b], [2b+1] (as double) = sum of finite x^2, count of non-finite x, over the
//                             block's grid-stride share of x (len elements). Launch: grid G <= 1024, block 256.
//   Floor: reads 4*len bytes (memory bound): 4096 x 4096 -> 67 MB, 14 us on an H200.
// sara_svd_sum_squares_finish out[0], out[1] (double) = totals of the G partial pairs. Launch: 1 block of 256.
// sara_svd_cholesky           L (n x n, lower, upper zeroed) with L L^T = A + shift_rel * max_i(A_ii) * I; A symmetric,
//                             only its lower triangle is read; n <= 1024. Left-looking, one column per step, the
//                             running diagonal kept in shared memory; a pivot that is not above guard = 1e-7 * max diag
//                             (or 1e-30) becomes sqrt(guard) with a zero sub-column (never fails, never NaN).
//   Launch: 1 block of 256. Flops n^3/3: n = 512 -> 45 MFLOP in one block (~1 ms); n barriers.
// sara_svd_tri_inverse        X = L^-1 for lower-triangular L (n x n); X's upper triangle zeroed. One thread per
//                             column of X (forward substitution). Launch: grid ceil(n/128), block 128. Flops n^3/3.
// sara_svd_identity           P = I (n x n). Launch: grid-stride, block 256.
// sara_svd_jacobi_step        One parallel step of one-sided (Hestenes) Jacobi on the rows of B (l x n): slots/2 disjoint
//                             row pairs of the round-robin ordering (slots = l rounded up to even, step < slots - 1).
//                             Each pair whose |b_i.b_j| > tol * |b_i| |b_j| is rotated to orthogonality; the same
//                             rotation is applied to rows i, j of P (l x l), and *rotations is incremented.
//   Launch: grid slots/2, block 128. Per sweep reads/writes B and P twice: 16*l*(n + l) bytes; l = 512, n = 4096:
//   38 MB -> ~8 us of bandwidth per sweep, in practice bound by the slots - 1 launches.
// sara_svd_row_norms          norms[i] = |B[i, :]|. Launch: grid l, block 128.
// sara_svd_finish             Sorts the rows by norm (descending, ties by index) and writes, for rank r of row i:
//                             s[r] = norms[i]; if r < c: Vt[r, :] = B[i, :] / norms[i] (zeros when the norm is 0) and
//                             U[:, r] = P[i, :]^T (U: l x c). Launch: grid l, block 128.
#include "common.cuh"

#define SVD_RED_THREADS 256
#define SVD_ROW_THREADS 128

// Fixed-order tree sum of (sum, bad) over the block's SVD_RED_THREADS threads; totals land in sum_s[0], bad_s[0].
__device__ __forceinline__ void svd_block_sum_pair(double sum, double bad, double* sum_s, double* bad_s)
{
    sum_s[threadIdx.x] = sum;
    bad_s[threadIdx.x] = bad;
    __syncthreads();
    for (int width = SVD_RED_THREADS / 2; width > 0; width >>= 1)
    {
        if (threadIdx.x < width)
        {
            sum_s[threadIdx.x] += sum_s[threadIdx.x + width];
            bad_s[threadIdx.x] += bad_s[threadIdx.x + width];
        }
        __syncthreads();
    }
}

extern "C" __global__ void __launch_bounds__(256)
sara_svd_sum_squares(const float* __restrict__ x, long long len, double* __restrict__ partials)
{
    __shared__ double sum_s[SVD_RED_THREADS];
    __shared__ double bad_s[SVD_RED_THREADS];
    double sum = 0.0, bad = 0.0;
    const long long stride = (long long)gridDim.x * SVD_RED_THREADS;
    for (long long i = (long long)blockIdx.x * SVD_RED_THREADS + threadIdx.x; i < len; i += stride)
    {
        const float v = x[i];   // finite iff v - v == 0 (no math headers under NVRTC)
        if (v - v == 0.f) sum += (double)v * (double)v;
        else bad += 1.0;
    }
    svd_block_sum_pair(sum, bad, sum_s, bad_s);
    if (threadIdx.x == 0)
    {
        partials[2 * blockIdx.x] = sum_s[0];
        partials[2 * blockIdx.x + 1] = bad_s[0];
    }
}

extern "C" __global__ void __launch_bounds__(256)
sara_svd_sum_squares_finish(const double* __restrict__ partials, int count, double* __restrict__ out)
{
    __shared__ double sum_s[SVD_RED_THREADS];
    __shared__ double bad_s[SVD_RED_THREADS];
    double sum = 0.0, bad = 0.0;
    for (int i = threadIdx.x; i < count; i += SVD_RED_THREADS)
    {
        sum += partials[2 * i];
        bad += partials[2 * i + 1];
    }
    svd_block_sum_pair(sum, bad, sum_s, bad_s);
    if (threadIdx.x == 0)
    {
        out[0] = sum_s[0];
        out[1] = bad_s[0];
    }
}

extern "C" __global__ void __launch_bounds__(256)
sara_svd_cholesky(const float* __restrict__ A, float* __restrict__ L, int n, float shift_rel)
{
    // D[i] = A_ii + shift - sum_{p<j} L_ip^2, kept up to date by the thread that owns row i (i = tid mod 256).
    __shared__ float D[1024];
    __shared__ float maxdiag_s;
    const int tid = threadIdx.x;
    for (int i = tid; i < n; i += 256) D[i] = A[(long)i * n + i];
    for (long e = tid; e < (long)n * n; e += 256)
        if (e % n > e / n) L[e] = 0.f;
    __syncthreads();
    if (tid == 0)
    {
        float mx = 0.f;
        for (int i = 0; i < n; i++) mx = fmaxf(mx, D[i]);
        maxdiag_s = mx;
    }
    __syncthreads();
    const float maxdiag = maxdiag_s;
    const float shift = shift_rel * maxdiag;
    const float guard = fmaxf(1e-7f * maxdiag, 1e-30f);
    for (int i = tid; i < n; i += 256) D[i] += shift;

    for (int j = 0; j < n; j++)
    {
        __syncthreads();   // column j - 1 and D[j] are complete
        // A pivot at or below guard marks a numerically dependent column: it gets pivot sqrt(guard) and a zero
        // sub-column (guarding alone would let the rounding left in the Schur complement grow without bound).
        const float d = D[j];
        const bool dead = !(d > guard);
        const float pivot = sqrtf(dead ? guard : d), inv = dead ? 0.f : 1.f / pivot;
        if (tid == 0) L[(long)j * n + j] = pivot;
        const float* Lj = L + (long)j * n;
        for (int i = j + 1 + tid; i < n; i += 256)
        {
            const float* Li = L + (long)i * n;
            float dot = 0.f;
            if (!dead)
                for (int p = 0; p < j; p++) dot = fmaf(Li[p], Lj[p], dot);
            const float v = (A[(long)i * n + j] - dot) * inv;
            L[(long)i * n + j] = v;
            D[i] -= v * v;
        }
    }
}

extern "C" __global__ void __launch_bounds__(128)
sara_svd_tri_inverse(const float* __restrict__ L, float* __restrict__ X, int n)
{
    const int c = blockIdx.x * 128 + threadIdx.x;
    if (c >= n) return;
    for (int i = 0; i < c; i++) X[(long)i * n + c] = 0.f;
    X[(long)c * n + c] = 1.f / L[(long)c * n + c];
    for (int i = c + 1; i < n; i++)
    {
        const float* Li = L + (long)i * n;
        float dot = 0.f;
        for (int p = c; p < i; p++) dot = fmaf(Li[p], X[(long)p * n + c], dot);
        X[(long)i * n + c] = -dot / Li[i];
    }
}

extern "C" __global__ void __launch_bounds__(256)
sara_svd_identity(float* __restrict__ P, int n)
{
    const long total = (long)n * n;
    for (long e = (long)blockIdx.x * 256 + threadIdx.x; e < total; e += (long)gridDim.x * 256)
        P[e] = (e / n == e % n) ? 1.f : 0.f;
}

// Sum of v over the 128 threads of a block in a fixed order, for up to 3 values at once (one per row of red);
// every thread gets the totals. Two barriers: the emulator pays per barrier, the GPU hardly notices 128 serial adds.
__device__ __forceinline__ void svd_block_sums128(float* v, int count, float (*red)[SVD_ROW_THREADS], float* totals)
{
    for (int q = 0; q < count; q++) red[q][threadIdx.x] = v[q];
    __syncthreads();
    if (threadIdx.x < count)
    {
        float t = 0.f;
        for (int k = 0; k < SVD_ROW_THREADS; k++) t += red[threadIdx.x][k];
        totals[threadIdx.x] = t;
    }
    __syncthreads();
    for (int q = 0; q < count; q++) v[q] = totals[q];
}

__device__ __forceinline__ void svd_rotate_rows(float* __restrict__ x, float* __restrict__ y, int len, float c, float s)
{
    for (int k = threadIdx.x; k < len; k += SVD_ROW_THREADS)
    {
        const float a = x[k], b = y[k];
        x[k] = c * a - s * b;
        y[k] = s * a + c * b;
    }
}

extern "C" __global__ void __launch_bounds__(128)
sara_svd_jacobi_step(float* __restrict__ B, float* __restrict__ P, int l, int n, int slots, int step, float tol,
                     int* __restrict__ rotations)
{
    __shared__ float red[3][SVD_ROW_THREADS];
    __shared__ float totals[3];
    const int last = slots - 1, pair = blockIdx.x;
    int a, b;
    if (pair == 0) { a = last; b = step; }
    else { a = (step + pair) % last; b = (step - pair + last) % last; }
    const int i = sara_min(a, b), j = sara_max(a, b);
    if (j >= l) return;   // the padding slot of an odd l: uniform across the block

    float* bi = B + (long)i * n;
    float* bj = B + (long)j * n;
    float al = 0.f, be = 0.f, ga = 0.f;
    for (int k = threadIdx.x; k < n; k += SVD_ROW_THREADS)
    {
        const float x = bi[k], y = bj[k];
        al = fmaf(x, x, al);
        be = fmaf(y, y, be);
        ga = fmaf(x, y, ga);
    }
    float sums[3] = {al, be, ga};
    svd_block_sums128(sums, 3, red, totals);
    al = sums[0];
    be = sums[1];
    ga = sums[2];
    if (!(fabsf(ga) > tol * sqrtf(al) * sqrtf(be))) return;   // already orthogonal (or a zero row): uniform

    const float zeta = (be - al) / (2.f * ga);
    const float az = fabsf(zeta);
    const float t = (az > 1e18f ? 0.5f / az : 1.f / (az + sqrtf(1.f + zeta * zeta))) * (zeta < 0.f ? -1.f : 1.f);
    const float c = 1.f / sqrtf(1.f + t * t), s = c * t;
    svd_rotate_rows(bi, bj, n, c, s);
    svd_rotate_rows(P + (long)i * l, P + (long)j * l, l, c, s);
    if (threadIdx.x == 0) atomicAdd(rotations, 1);
}

extern "C" __global__ void __launch_bounds__(128)
sara_svd_row_norms(const float* __restrict__ B, float* __restrict__ norms, int n)
{
    __shared__ float red[1][SVD_ROW_THREADS];
    __shared__ float total[1];
    const float* row = B + (long)blockIdx.x * n;
    float sum[1] = {0.f};
    for (int k = threadIdx.x; k < n; k += SVD_ROW_THREADS) sum[0] = fmaf(row[k], row[k], sum[0]);
    svd_block_sums128(sum, 1, red, total);
    if (threadIdx.x == 0) norms[blockIdx.x] = sqrtf(sum[0]);
}

extern "C" __global__ void __launch_bounds__(128)
sara_svd_finish(const float* __restrict__ B, const float* __restrict__ P, const float* __restrict__ norms,
                float* __restrict__ s, float* __restrict__ U, float* __restrict__ Vt, int l, int n, int c)
{
    const int i = blockIdx.x;
    const float mine = norms[i];
    int r = 0;   // every thread counts the rows ahead of row i itself: no barrier
    for (int j = 0; j < l; j++)
    {
        const float other = norms[j];
        if (other > mine || (other == mine && j < i)) r++;
    }
    if (threadIdx.x == 0) s[r] = mine;
    if (r >= c) return;
    const float inv = mine > 0.f ? 1.f / mine : 0.f;
    const float* row = B + (long)i * n;
    for (int k = threadIdx.x; k < n; k += SVD_ROW_THREADS) Vt[(long)r * n + k] = row[k] * inv;
    for (int p = threadIdx.x; p < l; p += SVD_ROW_THREADS) U[(long)p * c + r] = P[(long)i * l + p];
}
