// Fused ASH / L-ASH forward and backward for CPU (float32 and float64).
// A tensor is viewed as G contiguous groups of M elements (one group per sample, or per
// sample and channel); each group gets its own threshold theta = mu + z * sigma.
//   forward : y = x * (a + (1 - a) * s),  s = sigmoid(2 alpha (x - theta))   (a = 0: ASH)
//   backward: the exact gradient, including the terms through mu and sigma.
// Memory traffic: forward reads x twice and writes y once; backward reads x, gy and
// writes gx, then (unless detach_stats) re-reads x, gx and writes gx.
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace {

// exp(x) for float: Cephes range reduction + degree-6 polynomial, ~2 ulp, branch-free so that
// the compiler vectorises the loops that call it.
inline float exp_approx(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return e * scale;
}
inline double exp_approx(double x) { return std::exp(x); }

template <typename T>
inline T sigmoid(T u) { return T(1) / (T(1) + exp_approx(-u)); }

constexpr int64_t kChunk = 2048;  // float partial sums per chunk, double across chunks

template <typename T>
T chunk_sums(const T* __restrict x, int64_t n, T K, T* s2out) {
  T s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : s1, s2)
  for (int64_t i = 0; i < n; ++i) {
    const T d = x[i] - K;
    s1 += d;
    s2 += d * d;
  }
  *s2out = s2;
  return s1;
}

template <typename T>
void group_stats(const T* x, int64_t M, double eps, double* mu, double* rstd) {
  // Shifted sums (shift = mean of the first few elements) keep E[d^2] - E[d]^2 well conditioned.
  const int64_t m0 = std::min<int64_t>(M, 16);
  double k = 0;
  for (int64_t i = 0; i < m0; ++i) k += x[i];
  const T K = static_cast<T>(k / m0);
  double S1 = 0, S2 = 0;
  for (int64_t i0 = 0; i0 < M; i0 += kChunk) {
    T s2;
    S1 += chunk_sums<T>(x + i0, std::min(M - i0, kChunk), K, &s2);
    S2 += s2;
  }
  const double m = S1 / M;
  const double var = std::max(S2 / M - m * m, 0.0);
  *mu = static_cast<double>(K) + m;
  *rstd = 1.0 / std::sqrt(var + eps);
}

template <typename T>
void forward_group(const T* __restrict x, T* __restrict y, int64_t M, T th, T c, T A, T B) {
#pragma omp simd
  for (int64_t i = 0; i < M; ++i) {
    const T xi = x[i];
    const T s = sigmoid(c * (xi - th));
    y[i] = xi * (A + B * s);
  }
}

template <typename T>
void forward_impl(const T* x, T* y, double* mu, double* rstd, int64_t G, int64_t M, double alpha,
                  double z, double a, double eps) {
  at::parallel_for(0, G, 1, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g) {
      group_stats(x + g * M, M, eps, mu + g, rstd + g);
      forward_group<T>(x + g * M, y + g * M, M, static_cast<T>(mu[g] + z / rstd[g]), static_cast<T>(2.0 * alpha),
                       static_cast<T>(a), static_cast<T>(1.0 - a));
    }
  });
}

// One chunk of the backward's first pass: writes the direct part of gx, returns the chunk sums.
template <typename T>
void backward_chunk(const T* __restrict x, const T* __restrict gy, T* __restrict gx, int64_t n, T th, T c, T A,
                    T B, T* out) {
  T u = 0, ud = 0, ua = 0;
#pragma omp simd reduction(+ : u, ud, ua)
  for (int64_t i = 0; i < n; ++i) {
    const T xi = x[i], gi = gy[i];
    const T d = xi - th;
    const T s = sigmoid(c * d);
    const T gxs = gi * xi;
    const T gu = gxs * B * s * (T(1) - s);  // dL/du with u = 2 alpha (x - theta)
    gx[i] = gi * (A + B * s) + c * gu;
    u += gu;
    ud += gu * d;
    ua += gxs * (T(1) - s);
  }
  out[0] = u;
  out[1] = ud;
  out[2] = ua;
}

template <typename T>
void add_affine(const T* __restrict x, T* __restrict gx, int64_t n, T c0, T c1) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) gx[i] += c0 + c1 * x[i];
}

template <typename T>
void backward_impl(const T* gy, const T* x, const double* mu, const double* rstd, T* gx, double* sums,
                   int64_t G, int64_t M, double alpha, double z, double a, bool detach_stats) {
  at::parallel_for(0, G, 1, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g) {
      const T th = static_cast<T>(mu[g] + z / rstd[g]);
      const T c = static_cast<T>(2.0 * alpha), A = static_cast<T>(a), B = static_cast<T>(1.0 - a);
      double U = 0, UD = 0, UA = 0;
      for (int64_t i0 = 0; i0 < M; i0 += kChunk) {
        const int64_t n = std::min(M - i0, kChunk);
        T part[3];
        backward_chunk<T>(x + g * M + i0, gy + g * M + i0, gx + g * M + i0, n, th, c, A, B, part);
        U += part[0];
        UD += part[1];
        UA += part[2];
      }
      sums[3 * g + 0] = U;
      sums[3 * g + 1] = UD;
      sums[3 * g + 2] = UA;
      if (!detach_stats) {
        // dL/dtheta = -c U spreads over x through mu (1/M) and sigma ((x - mu) rstd / M).
        const double k = -2.0 * alpha * U / M;
        add_affine<T>(x + g * M, gx + g * M, M, static_cast<T>(k * (1.0 - z * mu[g] * rstd[g])),
                      static_cast<T>(k * z * rstd[g]));
      }
    }
  });
}

}  // namespace

// alpha, z and a are 0-dim tensors (a undefined for ASH): read here, not by Python's .item().
std::vector<at::Tensor> ash_forward(at::Tensor x, int64_t groups, at::Tensor alpha_t, at::Tensor z_t,
                                    c10::optional<at::Tensor> a_t, double eps) {
  TORCH_CHECK(x.device().is_cpu(), "ash_cpu: CPU tensors only");
  const double alpha = alpha_t.item<double>(), z = z_t.item<double>();
  const double a = a_t.has_value() ? a_t->item<double>() : 0.0;
  const bool low = x.scalar_type() == at::kBFloat16 || x.scalar_type() == at::kHalf;
  at::Tensor xc = low ? x.to(at::kFloat) : x;
  const int64_t G = groups, M = xc.numel() / std::max<int64_t>(groups, 1);
  auto y = at::empty_like(xc);
  auto opts = xc.options().dtype(at::kDouble);
  auto mu = at::empty({G}, opts), rstd = at::empty({G}, opts);
  AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "ash_forward", [&] {
    forward_impl<scalar_t>(xc.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), mu.data_ptr<double>(),
                           rstd.data_ptr<double>(), G, M, alpha, z, a, eps);
  });
  return {low ? y.to(x.scalar_type()) : y, mu, rstd};
}

std::vector<at::Tensor> ash_backward(at::Tensor gy, at::Tensor x, at::Tensor mu, at::Tensor rstd,
                                     at::Tensor alpha_t, at::Tensor z_t, c10::optional<at::Tensor> a_t,
                                     bool detach_stats) {
  // Returns gx and the gradients of alpha, z and a (0-dim tensors in alpha's dtype).
  const double alpha = alpha_t.item<double>(), z = z_t.item<double>();
  const double a = a_t.has_value() ? a_t->item<double>() : 0.0;
  const bool low = x.scalar_type() == at::kBFloat16 || x.scalar_type() == at::kHalf;
  at::Tensor xc = low ? x.to(at::kFloat) : x;
  at::Tensor gc = (gy.scalar_type() != xc.scalar_type() || gy.strides() != xc.strides())
                      ? at::empty_like(xc).copy_(gy) : gy;
  const int64_t G = mu.numel(), M = xc.numel() / std::max<int64_t>(G, 1);
  auto gx = at::empty_like(xc);
  std::vector<double> sums(3 * G);
  AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "ash_backward", [&] {
    backward_impl<scalar_t>(gc.data_ptr<scalar_t>(), xc.data_ptr<scalar_t>(), mu.data_ptr<double>(),
                            rstd.data_ptr<double>(), gx.data_ptr<scalar_t>(), sums.data(), G, M, alpha, z, a,
                            detach_stats);
  });
  const double* r = rstd.data_ptr<double>();
  double ga = 0, gz = 0, gl = 0;
  for (int64_t g = 0; g < G; ++g) {
    gz += sums[3 * g] / r[g];  // d theta / d z = sigma
    ga += sums[3 * g + 1];
    gl += sums[3 * g + 2];
  }
  auto opts = alpha_t.options();
  return {low ? gx.to(x.scalar_type()) : gx, at::scalar_tensor(2.0 * ga, opts),
          at::scalar_tensor(-2.0 * alpha * gz, opts), at::scalar_tensor(gl, opts)};
}
