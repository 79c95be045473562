// The time loops of one HyperLSTM layer, forward and backward: hyper_steps.py in C++, with each
// cell's elementwise work (gates, layer norms, state update) fused into one pass per example
// (cell_math.h). The matrix multiplies are the same calls the Python loop makes (panels.h's for
// the large recurrent ones).
// Sizes: B examples, N_h = hidden_size, N_hat = hyper_size, N_z = n_z.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/bmm.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/zeros.h>

#include <optional>
#include <vector>

#include "cell_math.h"
#include "panels.h"

namespace lstm_edu {

using at::Tensor;

// The order of PackedHyperCell.weights() (lstm_edu/fast/hyper_tape.py)
enum Weight { W_X_ALL, B_X_ALL, W_H_ALL, W_HH, W_Z, B_Z, W_D, B_D, LN_W, LN_B, LN_C_W, LN_C_B,
              HYPER_LN_W, HYPER_LN_B, HYPER_LN_C_W, HYPER_LN_C_B };

template <typename T>
LNCell<T> ln_cell(const std::vector<Tensor>& w, int first, int64_t N, double eps) {
  return {N, w[first].data_ptr<T>(), w[first + 1].data_ptr<T>(), w[first + 2].data_ptr<T>(),
          w[first + 3].data_ptr<T>(), T(eps)};
}

// The main cell's pre-activations of one example:
//   y_k = d_b^k + d_h^k (W_h^k h_{t-1}) + d_x^k (W_x^k x_t)   (two fused multiply-adds)
// d: the twelve maps d_h (4 gates), d_x (4), d_b (4) of this example, map m's row at
// d + m * d_stride; wh, wx: this example's W_h h_{t-1} and W_x x_t, [4, N_h] each.
template <typename T>
void main_preactivations(const T* d, int64_t d_stride, const T* wh, const T* wx, int64_t N_h,
                         T* y) {
  for (int k = 0; k < 4; ++k) {
    const T* d_h = d + k * d_stride;
    const T* d_x = d + (4 + k) * d_stride;
    const T* d_b = d + (8 + k) * d_stride;
    for_each_vec<T>(N_h, [&](int64_t j, int64_t n) {
      Vec<T> v = at::vec::fmadd(load(d_h + j, n), load(wh + k * N_h + j, n), load(d_b + j, n));
      at::vec::fmadd(load(d_x + j, n), load(wx + k * N_h + j, n), v).store(y + k * N_h + j, n);
    });
  }
}

// Rows of a step's buffers: g = g_buf[t], x = gx[t] ([B, ld]); their hyper part starts at 4 N_h.
template <typename T>
struct StepRows {
  T* g;
  const T* x;
  int64_t ld;
};

// The twelve scaling vectors of R rows: d^m = z^m W_d^m, plus b_d for the four d_b maps;
// z [R, 12 N_z], w_d [12, N_z, N_h], b_d [4, 1, N_h] -> d [12, R, N_h] (as hyper_steps.py).
void hyper_d(const Tensor& z, const Tensor& w_d, const Tensor& b_d, Tensor d) {
  const int64_t R = z.size(0), N_z = w_d.size(1);
  at::bmm_out(d, z.view({R, 12, N_z}).transpose(0, 1), w_d);
  d.narrow(0, 8, 4).add_(b_d);
}

void hyper_forward(const Tensor& gx, Tensor g_buf, Tensor h_all, Tensor c_all, Tensor h_hat_all,
                   Tensor c_hat_all, Tensor z_all, Tensor d, const std::vector<Tensor>& w,
                   const std::optional<Tensor>& panels, int64_t kc, double eps,
                   double hyper_eps) {
  const int64_t T = gx.size(0), B = gx.size(1), N_h = h_all.size(2);
  const int64_t N_hat = h_hat_all.size(2), N_z = w[W_Z].size(0) / 12, ld = 4 * N_h + 4 * N_hat;
  const Tensor w_hh_t = w[W_HH].t(), w_z_t = w[W_Z].t();
  AT_DISPATCH_FLOATING_TYPES(gx.scalar_type(), "hyper_forward", [&] {
    using T_ = scalar_t;
    const LNCell<T_> main = ln_cell<T_>(w, LN_W, N_h, eps);
    const LNCell<T_> hyper = ln_cell<T_>(w, HYPER_LN_W, N_hat, hyper_eps);
    const T_* b_hyper = w[B_X_ALL].data_ptr<T_>() + 4 * N_h;  // the hyper cell's bias
    for (int64_t t = 0; t < T; ++t) {
      // one matmul reads h_{t-1}: [W_h h_{t-1} | the hyper cell's h-columns]
      Tensor g_t = g_buf[t];
      times_w_t(g_t, h_all[t], w[W_H_ALL], panels, kc);  // [B, 4 N_h + 4 N_hat], as at::mm
      g_t.narrow(1, 4 * N_h, 4 * N_hat).addmm_(h_hat_all[t], w_hh_t);  // + h_hat_{t-1} W_hh^T
      const StepRows<T_> rows{g_t.data_ptr<T_>(), gx[t].data_ptr<T_>(), ld};
      T_* c_hat_prev = c_hat_all[t].data_ptr<T_>();
      T_* c_hat = c_hat_all[t + 1].data_ptr<T_>();
      T_* h_hat = h_hat_all[t + 1].data_ptr<T_>();
      for_examples(B, 4 * N_hat, [&](int64_t b0, int64_t b1) {  // the hyper cell
        std::vector<T_> scratch(N_hat);
        for (int64_t b = b0; b < b1; ++b) {
          T_* a = rows.g + b * ld + 4 * N_h;  // a_t, completed with W x_t + b: kept for backward
          const T_* x = rows.x + b * ld + 4 * N_h;
          for_each_vec<T_>(4 * N_hat, [&](int64_t j, int64_t n) {
            (load(a + j, n) + (load(x + j, n) + load(b_hyper + j, n))).store(a + j, n);
          });
          ln_cell_forward(hyper, SigmoidRuns::example_major<T_>(N_hat), a, N_hat,
                          c_hat_prev + b * N_hat, c_hat + b * N_hat,
                          h_hat + b * N_hat, scratch.data());
        }
      });
      // z (one matmul) and the twelve d's (one batched matmul): d [12, B, N_h]
      Tensor z = z_all[t];
      at::addmm_out(z, w[B_Z], h_hat_all[t + 1], w_z_t);  // [B, 12 N_z]
      hyper_d(z, w[W_D], w[B_D], d);
      const T_* dp = d.data_ptr<T_>();
      T_* c_prev = c_all[t].data_ptr<T_>();
      T_* c = c_all[t + 1].data_ptr<T_>();
      T_* h = h_all[t + 1].data_ptr<T_>();
      for_examples(B, 4 * N_h, [&](int64_t b0, int64_t b1) {  // the main cell
        std::vector<T_> scratch(5 * N_h);
        T_* y = scratch.data();
        for (int64_t b = b0; b < b1; ++b) {
          main_preactivations(dp + b * N_h, B * N_h, rows.g + b * ld, rows.x + b * ld, N_h, y);
          ln_cell_forward(main, SigmoidRuns::gate_major<T_>(b, B, N_h), y, N_h, c_prev + b * N_h,
                          c + b * N_h, h + b * N_h, y + 4 * N_h);
        }
      });
    }
  });
}

// The hyper network's output maps of one layer: w_d [12, N_z, N_h], b_d [4, N_h] (the d_b maps').
template <typename T>
struct Maps {
  const T* w_d;
  const T* b_d;
  int64_t N_z, N_h;
};

// out[0..N) = (accumulate ? out : 0) + sum_k a[k] W[k, 0..N), W [K, N] row-major: one example's
// row times a small matrix (the backward pass's products with W_d, W_z and W_hh, fused into its
// per-example passes). Four vectors of the row at a time, so that four sums are in flight.
template <typename T>
void row_times(const T* a, int64_t K, const T* W, int64_t N, T* out, bool accumulate) {
  const int64_t V = Vec<T>::size();
  int64_t j = 0;
  for (; j + 4 * V <= N; j += 4 * V) {
    Vec<T> acc[4];
    for (int u = 0; u < 4; ++u) {
      acc[u] = accumulate ? Vec<T>::loadu(out + j + u * V) : Vec<T>(T(0));
    }
    for (int64_t k = 0; k < K; ++k) {
      const Vec<T> a_k(a[k]);
      for (int u = 0; u < 4; ++u) {
        acc[u] = at::vec::fmadd(a_k, Vec<T>::loadu(W + k * N + j + u * V), acc[u]);
      }
    }
    for (int u = 0; u < 4; ++u) acc[u].store(out + j + u * V);
  }
  for (; j < N; j += V) {  // the rest of the row, a vector (or less) at a time
    const int64_t n = std::min(V, N - j);
    Vec<T> acc = accumulate ? load(out + j, n) : Vec<T>(T(0));
    for (int64_t k = 0; k < K; ++k) acc = at::vec::fmadd(Vec<T>(a[k]), load(W + k * N + j, n), acc);
    acc.store(out + j, n);
  }
}

// Map m of the twelve scaling vectors of one example again (the backward pass recomputes them):
// d^m = z^m W_d^m, plus b_d for the four d_b maps (m >= 8); z: the example's [12 N_z],
// d: its [12, N_h]. (The forward pass computes them with one batched matmul, which adds in this
// order at most sizes; where it does not, the two differ by rounding.)
template <typename T>
void map_d(const Maps<T>& maps, int m, const T* z, T* d) {
  const int64_t N_z = maps.N_z, N_h = maps.N_h;
  T* d_m = d + m * N_h;
  row_times(z + m * N_z, N_z, maps.w_d + m * N_z * N_h, N_h, d_m, false);
  if (m < 8) return;
  const T* b_m = maps.b_d + (m - 8) * N_h;
  for_each_vec<T>(N_h, [&](int64_t j, int64_t n) {
    (load(d_m + j, n) + load(b_m + j, n)).store(d_m + j, n);
  });
}

// Map m of dL/dz of one example from dL/dd: dz^m_q = sum_n dd^m_n W_d^m[q, n], map m of dd at
// dd + m * dd_stride; dz: the example's [12 N_z]. Eight q's at a time, so that eight
// independent sums are in flight.
template <typename T>
void map_dz(const Maps<T>& maps, int m, const T* dd, int64_t dd_stride, T* dz) {
  const int64_t N_z = maps.N_z, N_h = maps.N_h;
  constexpr int64_t Q = 8;
  const T* dd_m = dd + m * dd_stride;
  for (int64_t q0 = 0; q0 < N_z; q0 += Q) {
    const int64_t nq = std::min(Q, N_z - q0);
    const T* w = maps.w_d + (m * N_z + q0) * N_h;
    Vec<T> acc[Q];
    for (int64_t q = 0; q < Q; ++q) acc[q] = Vec<T>(T(0));
    for_each_vec<T>(N_h, [&](int64_t j, int64_t n) {
      const Vec<T> v = load(dd_m + j, n);  // a partial vector loads zeros past its end
      for (int64_t q = 0; q < nq; ++q) {
        acc[q] = at::vec::fmadd(v, load(w + q * N_h + j, n), acc[q]);
      }
    });
    for (int64_t q = 0; q < nq; ++q) dz[m * N_z + q0 + q] = sum_lanes(acc[q]);
  }
}

// The main cell of one step back, for the examples b0 .. b1-1: from dh (from step t + 1),
// d_out (through out[t]) and dc to dL/dd (dd: the twelve maps, map m of example b at
// dd + m * dd_stride + b * N_h), dz [B, 12 N_z], dm [B, ld] (its first 4 N_h columns:
// dL/d(W_h h_{t-1})), d_wx [B, 4 N_h] (dL/d(W_x x_t)) and dc = dL/dc_{t-1}. z: the step's
// [B, 12 N_z], from which each example's d's are recomputed.
template <typename T>
void main_cell_backward(const LNCell<T>& p, const LNCellGrads<T>& grads, const Maps<T>& maps,
                        const T* z, StepRows<const T> rows, const T* c_prev, const T* c,
                        const T* dh, const T* d_out, T* dc, T* dd, int64_t dd_stride, T* dz,
                        T* dm, T* d_wx, int64_t b0, int64_t b1, int64_t B) {
  const int64_t N_h = p.N, ld = rows.ld, N_z = maps.N_z;
  std::vector<T> scratch((10 + 12 * (b1 - b0)) * N_h);
  T* y = scratch.data();  // [4, N_h]: the pre-activations
  T* dh_t = y + 9 * N_h;  // [N_h]: dL/dh_t
  T* d_all = y + 10 * N_h;  // [b1 - b0, 12, N_h]: the examples' d's
  // Map by map, so that W_d^m (N_z x N_h numbers) stays in the fastest cache for all examples
  for (int m = 0; m < 12; ++m) {
    for (int64_t b = b0; b < b1; ++b) map_d(maps, m, z + b * 12 * N_z, d_all + (b - b0) * 12 * N_h);
  }
  for (int64_t b = b0; b < b1; ++b) {
    const T* wh = rows.g + b * ld;  // W_h h_{t-1}
    const T* wx = rows.x + b * ld;  // W_x x_t
    const T* d = d_all + (b - b0) * 12 * N_h;  // this example's d's
    main_preactivations(d, N_h, wh, wx, N_h, y);
    for_each_vec<T>(N_h, [&](int64_t j, int64_t n) {
      (load(dh + b * N_h + j, n) + load(d_out + b * N_h + j, n)).store(dh_t + j, n);
    });
    T* dd_b = dd + b * N_h;  // this example's dL/dd: map m at dd_b + m * dd_stride
    T* dy = dd_b + 8 * dd_stride;  // dL/dy_k, which is dL/dd_b^k
    ln_cell_backward(p, SigmoidRuns::gate_major<T>(b, B, N_h), grads, y, N_h, c_prev + b * N_h,
                     c + b * N_h, dh_t, dc + b * N_h, dy, dd_stride, y + 4 * N_h);
    for (int k = 0; k < 4; ++k) {  // y = d_h (W_h h) + d_x (W_x x) + d_b: the d's, W_h h, W_x x
      const T* dy_k = dy + k * dd_stride;
      const T* d_h = d + k * N_h;
      const T* d_x = d + (4 + k) * N_h;
      T* dd_h = dd_b + k * dd_stride;
      T* dd_x = dd_b + (4 + k) * dd_stride;
      T* dm_k = dm + b * ld + k * N_h;
      T* d_wx_k = d_wx + b * 4 * N_h + k * N_h;
      for_each_vec<T>(N_h, [&](int64_t j, int64_t n) {
        Vec<T> v = load(dy_k + j, n);
        (v * load(wh + k * N_h + j, n)).store(dd_h + j, n);
        (v * load(wx + k * N_h + j, n)).store(dd_x + j, n);
        (v * load(d_h + j, n)).store(dm_k + j, n);  // dL/d(W_h h_{t-1})
        (v * load(d_x + j, n)).store(d_wx_k + j, n);  // dL/d(W_x x_t)
      });
    }
  }
  for (int m = 0; m < 12; ++m) {  // back through d = z W_d + b_d, map by map as above
    for (int64_t b = b0; b < b1; ++b) map_dz(maps, m, dd + b * N_h, dd_stride, dz + b * 12 * N_z);
  }
}

// Steps end - 1 down to start (a chunk) of the backward pass; see hyper_steps.py.
// z: the chunk's z [n, B, 12 N_z]; w_h_all_t = W_h_all^T (contiguous), panels_t and kc_t its
// Panels (matmul.py), if any.
void hyper_backward(int64_t start, int64_t end, const Tensor& z, const Tensor& gx,
                    const Tensor& g_buf, const Tensor& c_all, const Tensor& c_hat_all,
                    const Tensor& d_out, Tensor dh, Tensor dc, Tensor dh_hat, Tensor dc_hat,
                    Tensor dd, Tensor dz_all, Tensor dm_all, Tensor d_wx,
                    const std::vector<Tensor>& w, const Tensor& w_h_all_t,
                    const std::optional<Tensor>& panels_t, int64_t kc_t,
                    const std::vector<Tensor>& ln_grads,
                    double eps, double hyper_eps) {
  const int64_t n_steps = end - start, B = gx.size(1), N_h = c_all.size(2);
  const int64_t N_hat = c_hat_all.size(2), N_z = w[W_Z].size(0) / 12, ld = 4 * N_h + 4 * N_hat;
  const int64_t dd_stride = n_steps * B * N_h;  // from one of the twelve maps to the next
  // Each thread adds the layer norms' weight gradients to its own row, summed at the end:
  // the main cell's d_ln_w, d_ln_b [4 N_h], d_ln_c_w, d_ln_c_b [N_h], then the hyper cell's.
  Tensor acc = at::zeros({at::get_num_threads(), 10 * N_h + 10 * N_hat}, gx.options());
  AT_DISPATCH_FLOATING_TYPES(gx.scalar_type(), "hyper_backward", [&] {
    using T_ = scalar_t;
    const LNCell<T_> main = ln_cell<T_>(w, LN_W, N_h, eps);
    const LNCell<T_> hyper = ln_cell<T_>(w, HYPER_LN_W, N_hat, hyper_eps);
    const Maps<T_> maps{w[W_D].data_ptr<T_>(), w[B_D].data_ptr<T_>(), N_z, N_h};
    const T_* w_z = w[W_Z].data_ptr<T_>();  // [12 N_z, N_hat]
    const T_* w_hh = w[W_HH].data_ptr<T_>();  // [4 N_hat, N_hat]
    auto grads = [&](int64_t N, int64_t offset) {  // this thread's row of acc
      T_* a = acc[at::get_thread_num()].data_ptr<T_>() + offset;
      return LNCellGrads<T_>{a, a + 4 * N, a + 8 * N, a + 9 * N};
    };
    // Rows of step t (or chunk row s) of the [T, B, ...] buffers, by pointer
    const T_* g_p = g_buf.data_ptr<T_>();
    const T_* gx_p = gx.data_ptr<T_>();
    const T_* c_p = c_all.data_ptr<T_>();
    const T_* c_hat_p = c_hat_all.data_ptr<T_>();
    const T_* d_out_p = d_out.data_ptr<T_>();
    const T_* z_p = z.data_ptr<T_>();
    T_* dh_p = dh.data_ptr<T_>();
    T_* dc_p = dc.data_ptr<T_>();
    T_* dh_hat_p = dh_hat.data_ptr<T_>();
    T_* dc_hat_p = dc_hat.data_ptr<T_>();
    T_* dd_p = dd.data_ptr<T_>();
    T_* dz_p = dz_all.data_ptr<T_>();
    T_* dm_p = dm_all.data_ptr<T_>();
    T_* d_wx_p = d_wx.data_ptr<T_>();
    for (int64_t t = end - 1; t >= start; --t) {
      const int64_t s = t - start;
      const StepRows<const T_> rows{g_p + t * B * ld, gx_p + t * B * ld, ld};
      T_* dm = dm_p + s * B * ld;
      T_* dz = dz_p + s * B * 12 * N_z;
      for_examples(B, 12 * N_h, [&](int64_t b0, int64_t b1) {  // the main cell, back to y and z
        main_cell_backward(main, grads(N_h, 0), maps, z_p + s * B * 12 * N_z, rows,
                           c_p + t * B * N_h, c_p + (t + 1) * B * N_h, dh_p,
                           d_out_p + t * B * N_h, dc_p, dd_p + s * B * N_h, dd_stride, dz, dm,
                           d_wx_p + s * B * 4 * N_h, b0, b1, B);
      });
      const T_* c_hat_prev = c_hat_p + t * B * N_hat;
      const T_* c_hat = c_hat_p + (t + 1) * B * N_hat;
      for_examples(B, 12 * N_hat, [&](int64_t b0, int64_t b1) {  // the hyper cell, back to a_t
        const LNCellGrads<T_> hyper_grads = grads(N_hat, 10 * N_h);
        std::vector<T_> scratch(5 * N_hat);
        for (int64_t b = b0; b < b1; ++b) {
          T_* dh_hat_b = dh_hat_p + b * N_hat;
          T_* da = dm + b * ld + 4 * N_h;  // dL/da_t of this example: [4 N_hat]
          // z = h_hat_t W_z^T + b_z: dL/dh_hat_t = (what came from step t + 1) + dz W_z
          row_times(dz + b * 12 * N_z, 12 * N_z, w_z, N_hat, dh_hat_b, true);
          ln_cell_backward(hyper, SigmoidRuns::example_major<T_>(N_hat), hyper_grads,
                           rows.g + b * ld + 4 * N_h, N_hat, c_hat_prev + b * N_hat,
                           c_hat + b * N_hat, dh_hat_b, dc_hat_p + b * N_hat, da, N_hat,
                           scratch.data());
          // a_t = ... + h_hat_{t-1} W_hh^T: the part of dL/dh_hat_{t-1} from step t
          row_times(da, 4 * N_hat, w_hh, N_hat, dh_hat_b, false);
        }
      });
      // h_{t-1}, read by this step's recurrent matmul (d_out is added in the next step back)
      times_w_t(dh, dm_all[s], w_h_all_t, panels_t, kc_t);  // dm W_h_all
    }
  });
  Tensor total = acc.sum(0);
  int64_t offset = 0;
  for (const Tensor& grad : ln_grads) {
    grad.view(-1).add_(total.narrow(0, offset, grad.numel()));
    offset += grad.numel();
  }
}

}  // namespace lstm_edu
