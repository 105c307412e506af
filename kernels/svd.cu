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
// sara_svd_gram               G = B B^T (l x l, float64, both triangles) for B: l x n (float32): every product is exact
//                             in float64 and summed over n in a fixed order. Grid (ceil(l/32), ceil(l/32)) (blocks above
//                             the diagonal return at once), block 256: a 32 x 32 tile per block, 2 x 2 per thread, B
//                             staged 32 columns at a time. Flops l^2 n (float64: l = 272, n = 4096 -> 0.3 GFLOP, ~9 us
//                             at the H200's 34 TFLOP/s fp64 on 45 blocks; initialisation only); bytes: B read once per
//                             tile row/column pair from L2.
// sara_svd_gram_finish        From the symmetric eigen-decomposition of G (Dsyevd: w ascending, row i of V the vector of
//                             w[i]): rank r (descending) is eigen index l-1-r: s[r] = sqrt(max(w, 0)) (float32), and for
//                             r < c, U[:, r] = V[l-1-r, :] (U: l x c, float32). Launch: grid l, block 128.
// sara_svd_normalize_rows     Vt[r, :] /= |Vt[r, :]| (zeros stay zero). Launch: grid c, block 128.
//   SmallSvd on the kernel runtime: gram, Dsyevd, gram_finish, Vt = U^T B (cuBLAS), normalize_rows: 3 kernels and 2
//   library calls, one host synchronisation (the solver's info word), whatever l. Why the Gram is safe here although
//   it squares the condition number: it is formed and factored in float64, so sigma_i keeps a relative error of about
//   1e-16 (sigma_1 / sigma_i)^2 (1e-8 at sigma_1 / sigma_i = 1e4), far under the float32 rounding of B itself; the
//   right vectors come from B (Vt = U^T B, normalised) with the float32 error eps sigma_1 / sigma_i, as one-sided Jacobi.
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

// G tile (bi, bj), bi >= bj: rows i0 = 32 bi .. and j0 = 32 bj .. of B, staged 32 columns at a time.
extern "C" __global__ void __launch_bounds__(256)
sara_svd_gram(const float* __restrict__ B, double* __restrict__ G, int l, int n)
{
    __shared__ float Bi[32][33];
    __shared__ float Bj[32][33];
    if (blockIdx.y > blockIdx.x) return;   // the upper triangle is written by symmetry (uniform: no barrier skipped)
    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    const int i0 = blockIdx.x * 32, j0 = blockIdx.y * 32;
    double acc[2][2] = {{0.0, 0.0}, {0.0, 0.0}};
    for (int k0 = 0; k0 < n; k0 += 32)
    {
        for (int e = tid; e < 32 * 32; e += 256)
        {
            const int r = e / 32, c = e % 32, k = k0 + c;
            Bi[r][c] = (i0 + r < l && k < n) ? B[(long long)(i0 + r) * n + k] : 0.f;
            Bj[r][c] = (j0 + r < l && k < n) ? B[(long long)(j0 + r) * n + k] : 0.f;
        }
        __syncthreads();
        for (int c = 0; c < 32; c++)
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                    acc[a][b] = fma((double)Bi[2 * ty + a][c], (double)Bj[2 * tx + b][c], acc[a][b]);
        __syncthreads();
    }
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
        {
            const int i = i0 + 2 * ty + a, j = j0 + 2 * tx + b;
            if (i >= l || j >= l || j > i) continue;
            G[(long long)i * l + j] = acc[a][b];
            G[(long long)j * l + i] = acc[a][b];
        }
}

extern "C" __global__ void __launch_bounds__(128)
sara_svd_gram_finish(const double* __restrict__ V, const double* __restrict__ w, float* __restrict__ s,
                     float* __restrict__ U, int l, int c)
{
    const int r = blockIdx.x, e = l - 1 - r;
    if (threadIdx.x == 0) s[r] = (float)sqrt(w[e] > 0.0 ? w[e] : 0.0);
    if (r >= c) return;
    for (int p = threadIdx.x; p < l; p += SVD_ROW_THREADS) U[(long long)p * c + r] = (float)V[(long long)e * l + p];
}

extern "C" __global__ void __launch_bounds__(128)
sara_svd_normalize_rows(float* __restrict__ Vt, int n)
{
    __shared__ float red[1][SVD_ROW_THREADS];
    __shared__ float total[1];
    float* row = Vt + (long long)blockIdx.x * n;
    float sum[1] = {0.f};
    for (int k = threadIdx.x; k < n; k += SVD_ROW_THREADS) sum[0] = fmaf(row[k], row[k], sum[0]);
    svd_block_sums128(sum, 1, red, total);
    const float inv = sum[0] > 0.f ? 1.f / sqrtf(sum[0]) : 0.f;
    for (int k = threadIdx.x; k < n; k += SVD_ROW_THREADS) row[k] *= inv;
}
