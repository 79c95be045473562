// Vectorised elementwise work of one LSTM step, shared by lstm_steps.cpp and hyper_steps.cpp.
//
// Every function here works on one example's row ([4, N] gate pre-activations, [N] states): the
// callers loop over the batch. A Vec holds 16 floats (AVX-512) or 8 (AVX2). The arithmetic is
// PyTorch's own, so that the results round as the reference modules' do: exp and tanh are the
// vectorised functions of PyTorch's sigmoid and tanh (Sleef) on whole vectors and the C library's
// on the few numbers at the end of a row, as PyTorch computes the end of a tensor; a layer
// norm's mean and variance are PyTorch's (RowwiseMoments) and its output is computed in PyTorch's
// order. (Rounding matters here: the gradients of a deep recurrent network can change by far more
// than one rounding error when one intermediate value changes by one.)
#pragma once

#include <ATen/Parallel.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/native/cpu/moments_utils.h>

#include <algorithm>
#include <type_traits>
#include <cmath>
#include <cstdint>

namespace lstm_edu {

// f(b0, b1) for the examples b0 .. b1-1 of [0, B), split between PyTorch's CPU threads when each
// part gets at least about 4096 numbers to work on (`work` numbers per example); a smaller
// part is not worth the cost of starting threads.
template <typename F>
inline void for_examples(int64_t B, int64_t work, const F& f) {
  at::parallel_for(0, B, std::max<int64_t>(1, 4096 / std::max<int64_t>(work, 1)), f);
}

template <typename T>
using Vec = at::vec::Vectorized<T>;

// f(j, n) for j = 0, V, 2V, ... < N, with n = V numbers at j (fewer in the last, partial vector).
template <typename T, typename F>
inline void for_each_vec(int64_t N, F f) {
  int64_t j = 0;
  for (; j + Vec<T>::size() <= N; j += Vec<T>::size()) f(j, Vec<T>::size());
  if (j < N) f(j, N - j);
}

template <typename T>
inline Vec<T> load(const T* p, int64_t n) {
  return n == Vec<T>::size() ? Vec<T>::loadu(p) : Vec<T>::loadu(p, n);
}

// Keep the first n lanes of v, zero the rest (a partial vector must not add to a row's sum).
template <typename T>
inline Vec<T> first(const Vec<T>& v, int64_t n) {
  return n == Vec<T>::size() ? v : Vec<T>::set(Vec<T>(T(0)), v, n);
}

template <typename T>
inline T sum_lanes(const Vec<T>& v) {
  return at::vec::vec_reduce_all<T>([](Vec<T>& a, Vec<T>& b) { return a + b; }, v);
}

// sigma(x) = 1 / (1 + exp(-x)) of the first n lanes of x, the first `vector_lanes` of them with
// the vectorised exp, the others with the C library's (which rounds differently).
template <typename T>
inline Vec<T> sigmoid(const Vec<T>& x, int64_t n, int64_t vector_lanes) {
  const Vec<T> s = Vec<T>(T(1)) / ((Vec<T>(T(0)) - x).exp() + Vec<T>(T(1)));
  if (vector_lanes == Vec<T>::size()) return s;
  T v[Vec<T>::size()];
  x.store(v);
  for (int64_t l = vector_lanes; l < n; ++l) v[l] = T(1) / (T(1) + std::exp(-v[l]));
  return Vec<T>::set(Vec<T>::loadu(v), s, vector_lanes);  // lanes < vector_lanes from s
}

// Which numbers PyTorch's sigmoid computes with the vectorised exp: it goes through a contiguous
// run of numbers two vectors at a time and does the rest, fewer than two vectors, one by one.
// Here gate k's numbers of one example start at position base[k] of their run, and positions
// below limit[k] are the vectorised ones. The layouts are those of hyper_steps.py.
struct SigmoidRuns {
  int64_t base[4], limit[4];

  template <typename T>
  static int64_t vectorised(int64_t run) {
    return run / (2 * Vec<T>::size()) * (2 * Vec<T>::size());
  }
  // [4, B, N]: the gates i and f of all B examples are one run, o another
  template <typename T>
  static SigmoidRuns gate_major(int64_t b, int64_t B, int64_t N) {
    const int64_t l2 = vectorised<T>(2 * B * N), l1 = vectorised<T>(B * N);
    return {{b * N, B * N + b * N, 0, b * N}, {l2, l2, 0, l1}};
  }
  // [B, 4, N]: gates i and f of one example are one run, o another
  template <typename T>
  static SigmoidRuns example_major(int64_t N) {
    const int64_t l2 = vectorised<T>(2 * N), l1 = vectorised<T>(N);
    return {{0, N, 0, 0}, {l2, l2, 0, l1}};
  }
  int64_t vector_lanes(int k, int64_t j, int64_t n) const {
    return std::min(n, std::max<int64_t>(0, limit[k] - base[k] - j));
  }
};

// tanh of the first n lanes of x. A whole vector (n = V) goes through PyTorch's own vectorised
// tanh (Sleef's), which is what torch.tanh computes on the whole vectors of a long contiguous
// run. The few numbers at the end of a row are rounded once to T as the C library's tanhf
// rounds them: for float, tanh(x) = expm1(2x) / (expm1(2x) + 2) computed in double and rounded
// to float, the correctly rounded float in every case we tried (millions). (Sleef's differs from
// that in about one number in a thousand, by one rounding step.)
template <typename T>
inline Vec<T> tanh(const Vec<T>& x, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    if (n == Vec<float>::size()) return x.tanh();
    constexpr int64_t V = Vec<float>::size(), W = Vec<double>::size();
    float v[V];
    double d[V];
    x.store(v);
    for (int64_t l = 0; l < V; ++l) d[l] = v[l];
    const Vec<double> lo(-40.0), hi(40.0), two(2.0);
    for (int64_t l = 0; l < V; l += W) {
      const Vec<double> a = Vec<double>::loadu(d + l);
      const Vec<double> e = at::vec::clamp(a + a, lo, hi).expm1();  // tanh(20) is 1 in double
      (e / (e + two)).store(d + l);
    }
    for (int64_t l = 0; l < V; ++l) v[l] = float(d[l]);
    return Vec<float>::loadu(v);
  } else {
    return x.tanh();
  }
}

// sigma'(a) = s (1 - s) from s = sigma(a); tanh'(a) = 1 - t^2 from t = tanh(a)
template <typename T>
inline Vec<T> sigmoid_grad(const Vec<T>& s) { return s - s * s; }
template <typename T>
inline Vec<T> tanh_grad(const Vec<T>& t) { return Vec<T>(T(1)) - t * t; }

// A layer norm's statistics of x[0..N), computed as PyTorch's layer norm computes them:
// x_hat = (x - mean) * rstd with rstd = 1 / sqrt(variance + eps).
template <typename T>
struct Norm {
  T mean, rstd;
  Norm() = default;
  Norm(const T* x, int64_t N, T eps) {
    const auto mean_var = at::native::RowwiseMoments(x, N);
    mean = T(mean_var.first);
    rstd = T(1) / std::sqrt(T(mean_var.second) + eps);
  }
  Vec<T> x_hat(const T* x, int64_t j, int64_t n) const {
    return (load(x + j, n) - Vec<T>(mean)) * Vec<T>(rstd);
  }
};

// The parameters of a layer-normalised LSTM cell (the HyperLSTM's main cell and its hyper cell):
// gains and biases of the four gates' layer norms [4, N] and of the layer norm of c [N].
template <typename T>
struct LNCell {
  int64_t N;
  const T* ln_w;
  const T* ln_b;
  const T* ln_c_w;
  const T* ln_c_b;
  T eps;
};

// The gate values sigma(i), sigma(f), tanh(g), sigma(o) of the lanes at j of a row, from the
// pre-activations y_k (gate k at y + k * stride) and their layer norms' statistics.
template <typename T>
inline void gate_values(const LNCell<T>& p, const SigmoidRuns& runs, const T* y, int64_t stride,
                        const Norm<T>* norm, int64_t j, int64_t n, Vec<T> a[4], Vec<T> y_hat[4]) {
  for (int k = 0; k < 4; ++k) {
    y_hat[k] = norm[k].x_hat(y + k * stride, j, n);
    Vec<T> pre = at::vec::fmadd(y_hat[k], load(p.ln_w + k * p.N + j, n),
                                load(p.ln_b + k * p.N + j, n));
    a[k] = k == 2 ? tanh(pre, n) : sigmoid(pre, n, runs.vector_lanes(k, j, n));
  }
}

// One step forward of a layer-normalised LSTM cell, one example:
//   i, f, g, o = LN_k(y_k);  c = sigma(f) c_prev + sigma(i) tanh(g);  h = sigma(o) tanh(LN_c(c))
// y: the four gates' pre-activations (gate k at y + k * stride); scratch: N numbers.
template <typename T>
inline void ln_cell_forward(const LNCell<T>& p, const SigmoidRuns& runs, const T* y,
                            int64_t stride, const T* c_prev, T* c, T* h, T* scratch) {
  const int64_t N = p.N;
  Norm<T> norm[4];
  for (int k = 0; k < 4; ++k) norm[k] = Norm<T>(y + k * stride, N, p.eps);
  for_each_vec<T>(N, [&](int64_t j, int64_t n) {
    Vec<T> a[4], y_hat[4];
    gate_values(p, runs, y, stride, norm, j, n, a, y_hat);
    at::vec::fmadd(a[0], a[2], a[1] * load(c_prev + j, n)).store(c + j, n);
    a[3].store(scratch + j, n);  // sigma(o), until LN_c(c) is known
  });
  const Norm<T> norm_c(c, N, p.eps);
  for_each_vec<T>(N, [&](int64_t j, int64_t n) {
    Vec<T> pre =
        at::vec::fmadd(norm_c.x_hat(c, j, n), load(p.ln_c_w + j, n), load(p.ln_c_b + j, n));
    (load(scratch + j, n) * tanh(pre, n)).store(h + j, n);
  });
}

// Where the backward step of a layer-normalised cell adds its layer norms' weight gradients:
// d_ln_w, d_ln_b [4, N]; d_ln_c_w, d_ln_c_b [N].
template <typename T>
struct LNCellGrads {
  T* d_ln_w;
  T* d_ln_b;
  T* d_ln_c_w;
  T* d_ln_c_b;
};

// The gradient of a layer norm's input from dL/d(its normalised value) g and x_hat:
//   dx = rstd (g - mean(g) - x_hat mean(g x_hat))        (mean over the row; g already times w)
// sum_g, sum_gx: the row sums of g and g x_hat.
template <typename T>
inline Vec<T> ln_input_grad(const Vec<T>& g, const Vec<T>& x_hat, T sum_g, T sum_gx, T rstd,
                            int64_t N) {
  return Vec<T>(rstd) * (g - Vec<T>(sum_g / T(N)) - x_hat * Vec<T>(sum_gx / T(N)));
}

// One step back through a layer-normalised LSTM cell, one example (the forward step above):
// from dh = dL/dh_t and dc = dL/dc_t (only what reaches c_t from step t + 1) to
// dL/dy (the pre-activations, written at dy + k * dy_stride) and dc = dL/dc_{t-1} (in place);
// adds the layer norms' weight gradients to `grads`. scratch: 5 N numbers.
template <typename T>
inline void ln_cell_backward(const LNCell<T>& p, const SigmoidRuns& runs,
                             const LNCellGrads<T>& grads, const T* y,
                             int64_t stride, const T* c_prev, const T* c, const T* dh, T* dc,
                             T* dy, int64_t dy_stride, T* scratch) {
  const int64_t N = p.N;
  Norm<T> norm[4];
  for (int k = 0; k < 4; ++k) norm[k] = Norm<T>(y + k * stride, N, p.eps);
  const Norm<T> norm_c(c, N, p.eps);
  T* a_ifg = scratch;  // sigma(i), sigma(f), tanh(g): [3, N]
  T* c_hat = scratch + 3 * N;  // LN_c's normalised c
  T* g_c = scratch + 4 * N;  // dL/d(LN_c's normalised c)
  // Pass 1: the gate values; o's gradient and the gradient reaching c through
  // h = sigma(o) tanh(LN_c(c))
  Vec<T> sum_gc(T(0)), sum_gcx(T(0)), sum_go(T(0)), sum_gox(T(0));
  for_each_vec<T>(N, [&](int64_t j, int64_t n) {
    Vec<T> a[4], y_hat[4];
    gate_values(p, runs, y, stride, norm, j, n, a, y_hat);
    for (int k = 0; k < 3; ++k) a[k].store(a_ifg + k * N + j, n);
    Vec<T> x = norm_c.x_hat(c, j, n);
    Vec<T> t = tanh(at::vec::fmadd(x, load(p.ln_c_w + j, n), load(p.ln_c_b + j, n)), n);
    Vec<T> d_h = load(dh + j, n);
    Vec<T> dn_c = d_h * a[3] * tanh_grad(t);  // dL/d LN_c(c)
    Vec<T> dy_o = d_h * t * sigmoid_grad(a[3]);  // dL/d LN_o(y_o)
    (load(grads.d_ln_c_w + j, n) + dn_c * x).store(grads.d_ln_c_w + j, n);
    (load(grads.d_ln_c_b + j, n) + dn_c).store(grads.d_ln_c_b + j, n);
    (load(grads.d_ln_w + 3 * N + j, n) + dy_o * y_hat[3]).store(grads.d_ln_w + 3 * N + j, n);
    (load(grads.d_ln_b + 3 * N + j, n) + dy_o).store(grads.d_ln_b + 3 * N + j, n);
    Vec<T> gc = first(dn_c * load(p.ln_c_w + j, n), n);
    Vec<T> go = first(dy_o * load(p.ln_w + 3 * N + j, n), n);
    sum_gc += gc;
    sum_gcx += gc * x;
    sum_go += go;
    sum_gox += go * y_hat[3];
    x.store(c_hat + j, n);
    gc.store(g_c + j, n);
    go.store(dy + 3 * dy_stride + j, n);
  });
  const T s_gc = sum_lanes(sum_gc), s_gcx = sum_lanes(sum_gcx);
  // Pass 2: dc_t, the gradients of i, f, g, and dc_{t-1} = dc_t sigma(f)
  Vec<T> sum_g[3] = {Vec<T>(T(0)), Vec<T>(T(0)), Vec<T>(T(0))};
  Vec<T> sum_gx[3] = {Vec<T>(T(0)), Vec<T>(T(0)), Vec<T>(T(0))};
  for_each_vec<T>(N, [&](int64_t j, int64_t n) {
    Vec<T> d_c = load(dc + j, n) +
                 ln_input_grad(load(g_c + j, n), load(c_hat + j, n), s_gc, s_gcx, norm_c.rstd, N);
    Vec<T> i = load(a_ifg + j, n), f = load(a_ifg + N + j, n), g = load(a_ifg + 2 * N + j, n);
    Vec<T> d[3] = {d_c * g * sigmoid_grad(i), d_c * load(c_prev + j, n) * sigmoid_grad(f),
                   d_c * i * tanh_grad(g)};
    for (int k = 0; k < 3; ++k) {
      Vec<T> y_hat = norm[k].x_hat(y + k * stride, j, n);
      (load(grads.d_ln_w + k * N + j, n) + d[k] * y_hat).store(grads.d_ln_w + k * N + j, n);
      (load(grads.d_ln_b + k * N + j, n) + d[k]).store(grads.d_ln_b + k * N + j, n);
      Vec<T> gk = first(d[k] * load(p.ln_w + k * N + j, n), n);
      sum_g[k] += gk;
      sum_gx[k] += gk * y_hat;
      gk.store(dy + k * dy_stride + j, n);
    }
    (d_c * f).store(dc + j, n);
  });
  T s_g[4], s_gx[4];
  for (int k = 0; k < 3; ++k) s_g[k] = sum_lanes(sum_g[k]), s_gx[k] = sum_lanes(sum_gx[k]);
  s_g[3] = sum_lanes(sum_go), s_gx[3] = sum_lanes(sum_gox);
  // Pass 3: through the four gates' layer norms, in place
  for (int k = 0; k < 4; ++k) {
    for_each_vec<T>(N, [&](int64_t j, int64_t n) {
      T* out = dy + k * dy_stride + j;
      ln_input_grad(load(out, n), norm[k].x_hat(y + k * stride, j, n), s_g[k], s_gx[k],
                    norm[k].rstd, N).store(out, n);
    });
  }
}

}  // namespace lstm_edu
