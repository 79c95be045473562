// The time loops of one HyperLSTM layer, forward and backward: hyper_steps.py in C++, with
// each cell's elementwise work (gates, layer norms, state update) fused into one pass per example
// (cell_math.h). The matrix multiplies are the same ATen calls the Python loop makes.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/bmm.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/zeros.h>

#include <vector>

#include "cell_math.h"

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
//   y_k = d_h^k (W_h^k h_{t-1}) + d_x^k (W_x^k x_t) + d_b^k (+ b_d^k when b_d is given)
// d: the twelve maps d_h (4 gates), d_x (4), d_b (4) of this step, map m's row at d + m * d_stride;
// wh, wx: this example's W_h h_{t-1} and W_x x_t, [4, H] each.
template <typename T>
void main_preactivations(const T* d, int64_t d_stride, const T* b_d, const T* wh, const T* wx,
                         int64_t H, T* y) {
  for (int k = 0; k < 4; ++k) {
    const T* d_h = d + k * d_stride;
    const T* d_x = d + (4 + k) * d_stride;
    const T* d_b = d + (8 + k) * d_stride;
    for_each_vec<T>(H, [&](int64_t j, int64_t n) {
      Vec<T> v = load(d_h + j, n) * load(wh + k * H + j, n) +
                 load(d_x + j, n) * load(wx + k * H + j, n) + load(d_b + j, n);
      if (b_d != nullptr) v = v + load(b_d + k * H + j, n);
      v.store(y + k * H + j, n);
    });
  }
}

void hyper_forward(const Tensor& gx, Tensor g_buf, Tensor h_all, Tensor c_all, Tensor h_hat_all,
                   Tensor c_hat_all, Tensor z_all, Tensor d, const std::vector<Tensor>& w,
                   double eps, double hyper_eps) {
  const int64_t T = gx.size(0), B = gx.size(1), H = h_all.size(2), K = h_hat_all.size(2);
  const int64_t Z = w[W_Z].size(0) / 12, ld = 4 * H + 4 * K;  // ld: a row of gx and g_buf
  const Tensor w_h_all_t = w[W_H_ALL].t(), w_hh_t = w[W_HH].t(), w_z_t = w[W_Z].t();
  AT_DISPATCH_FLOATING_TYPES(gx.scalar_type(), "hyper_forward", [&] {
    using T_ = scalar_t;
    const LNCell<T_> main = ln_cell<T_>(w, LN_W, H, eps);
    const LNCell<T_> hyper = ln_cell<T_>(w, HYPER_LN_W, K, hyper_eps);
    const T_* b_d = w[B_D].data_ptr<T_>();
    const T_* b_hyper = w[B_X_ALL].data_ptr<T_>() + 4 * H;  // the hyper cell's bias
    for (int64_t t = 0; t < T; ++t) {
      // one matmul reads h_{t-1}: [W_h h_{t-1} | the hyper cell's h-columns]
      Tensor g_t = g_buf[t];
      at::mm_out(g_t, h_all[t], w_h_all_t);  // [B, 4H + 4K]
      g_t.narrow(1, 4 * H, 4 * K).addmm_(h_hat_all[t], w_hh_t);  // + h_hat_{t-1} W_hh^T
      T_* g = g_t.data_ptr<T_>();
      const T_* x = gx[t].data_ptr<T_>();
      T_* c_hat_prev = c_hat_all[t].data_ptr<T_>();
      T_* c_hat = c_hat_all[t + 1].data_ptr<T_>();
      T_* h_hat = h_hat_all[t + 1].data_ptr<T_>();
      for_examples(B, 4 * K, [&](int64_t b0, int64_t b1) {  // the hyper cell
        std::vector<T_> scratch(K);
        for (int64_t b = b0; b < b1; ++b) {
          T_* a = g + b * ld + 4 * H;  // a_t: completed with the input term, kept for backward
          for_each_vec<T_>(4 * K, [&](int64_t j, int64_t n) {
            (load(a + j, n) + load(x + b * ld + 4 * H + j, n) + load(b_hyper + j, n)).store(a + j, n);
          });
          ln_cell_forward(hyper, a, K, c_hat_prev + b * K, c_hat + b * K, h_hat + b * K,
                          scratch.data());
        }
      });
      // z (one matmul) and the twelve d's (one batched matmul): d [12, B, H]
      Tensor z = z_all[t];
      at::addmm_out(z, w[B_Z], h_hat_all[t + 1], w_z_t);  // [B, 12Z]
      at::bmm_out(d, z.view({B, 12, Z}).transpose(0, 1), w[W_D]);
      const T_* dp = d.data_ptr<T_>();
      T_* c_prev = c_all[t].data_ptr<T_>();
      T_* c = c_all[t + 1].data_ptr<T_>();
      T_* h = h_all[t + 1].data_ptr<T_>();
      for_examples(B, 4 * H, [&](int64_t b0, int64_t b1) {  // the main cell
        std::vector<T_> scratch(5 * H);
        T_* y = scratch.data();
        for (int64_t b = b0; b < b1; ++b) {
          main_preactivations(dp + b * H, B * H, b_d, g + b * ld, x + b * ld, H, y);
          ln_cell_forward(main, y, H, c_prev + b * H, c + b * H, h + b * H, y + 4 * H);
        }
      });
    }
  });
}

// The main cell of one step back, for the examples b0 .. b1-1: from dh (from step t + 1),
// d_out (through out[t]) and dc to dL/dd (dd: the twelve maps, map m's rows at dd + m * d_stride),
// dm [B, ld] (its first 4H columns: dL/d(W_h h_{t-1})), d_wx [B, 4H] (dL/d(W_x x_t)) and
// dc = dL/dc_{t-1}.
template <typename T>
void main_cell_backward(const LNCell<T>& p, const LNCellGrads<T>& grads, const T* d,
                        int64_t d_stride, const T* g, const T* x, int64_t ld, const T* c_prev,
                        const T* c, const T* dh, const T* d_out, T* dc, T* dd, T* dm,
                        T* d_wx, int64_t b0, int64_t b1) {
  const int64_t H = p.N;
  std::vector<T> scratch(10 * H);
  T* y = scratch.data();  // [4, H]: the pre-activations
  T* dh_t = y + 9 * H;  // [H]: dL/dh_t
  for (int64_t b = b0; b < b1; ++b) {
    const T* wh = g + b * ld;  // W_h h_{t-1}
    const T* wx = x + b * ld;  // W_x x_t
    main_preactivations(d + b * H, d_stride, (const T*)nullptr, wh, wx, H, y);
    for_each_vec<T>(H, [&](int64_t j, int64_t n) {
      (load(dh + b * H + j, n) + load(d_out + b * H + j, n)).store(dh_t + j, n);
    });
    T* dy = dd + 8 * d_stride + b * H;  // dL/dy_k, which is dL/dd_b^k
    ln_cell_backward(p, grads, y, H, c_prev + b * H, c + b * H, dh_t, dc + b * H, dy, d_stride,
                     y + 4 * H);
    for (int k = 0; k < 4; ++k) {  // y = d_h (W_h h) + d_x (W_x x) + d_b: the d's and W_h h
      const T* dy_k = dy + k * d_stride;
      const T* d_h = d + k * d_stride + b * H;
      const T* d_x = d + (4 + k) * d_stride + b * H;
      T* dd_h = dd + k * d_stride + b * H;
      T* dd_x = dd + (4 + k) * d_stride + b * H;
      for_each_vec<T>(H, [&](int64_t j, int64_t n) {
        Vec<T> v = load(dy_k + j, n);
        (v * load(wh + k * H + j, n)).store(dd_h + j, n);
        (v * load(wx + k * H + j, n)).store(dd_x + j, n);
        (v * load(d_h + j, n)).store(dm + b * ld + k * H + j, n);  // dL/d(W_h h_{t-1})
        (v * load(d_x + j, n)).store(d_wx + b * 4 * H + k * H + j, n);  // dL/d(W_x x_t)
      });
    }
  }
}

// Steps end - 1 down to start (a chunk) of the backward pass; see hyper_steps.py.
void hyper_backward(int64_t start, int64_t end, const Tensor& d, const Tensor& gx,
                    const Tensor& g_buf, const Tensor& c_all, const Tensor& c_hat_all,
                    const Tensor& d_out, Tensor dh, Tensor dc, Tensor dh_hat, Tensor dc_hat,
                    Tensor dd, Tensor dz_all, Tensor dm_all, Tensor d_wx,
                    const std::vector<Tensor>& w, const std::vector<Tensor>& ln_grads, double eps,
                    double hyper_eps) {
  const int64_t n_steps = end - start, B = gx.size(1), H = c_all.size(2), K = c_hat_all.size(2);
  const int64_t Z = w[W_Z].size(0) / 12, ld = 4 * H + 4 * K, d_stride = n_steps * B * H;
  const Tensor w_d_t = w[W_D].transpose(1, 2);  // [12, H, Z]
  Tensor dz = at::empty({12, B, Z}, gx.options());
  // Each thread adds the layer norms' weight gradients to its own row, summed at the end:
  // main cell's d_ln_w, d_ln_b [4H], d_ln_c_w, d_ln_c_b [H], then the hyper cell's (K).
  const int64_t n_acc = 10 * H + 10 * K;
  Tensor acc = at::zeros({at::get_num_threads(), n_acc}, gx.options());
  AT_DISPATCH_FLOATING_TYPES(gx.scalar_type(), "hyper_backward", [&] {
    using T_ = scalar_t;
    const LNCell<T_> main = ln_cell<T_>(w, LN_W, H, eps);
    const LNCell<T_> hyper = ln_cell<T_>(w, HYPER_LN_W, K, hyper_eps);
    auto main_grads = [&](T_* a) { return LNCellGrads<T_>{a, a + 4 * H, a + 8 * H, a + 9 * H}; };
    auto hyper_grads = [&](T_* a) {
      a += 10 * H;
      return LNCellGrads<T_>{a, a + 4 * K, a + 8 * K, a + 9 * K};
    };
    for (int64_t t = end - 1; t >= start; --t) {
      const int64_t s = t - start;
      const T_* g = g_buf[t].data_ptr<T_>();
      T_* dm = dm_all[s].data_ptr<T_>();
      for_examples(B, 12 * H, [&](int64_t b0, int64_t b1) {  // the main cell, back to y
        T_* a = acc[at::get_thread_num()].data_ptr<T_>();
        main_cell_backward(main, main_grads(a), d.data_ptr<T_>() + s * B * H, d_stride, g,
                           gx[t].data_ptr<T_>(), ld, c_all[t].data_ptr<T_>(),
                           c_all[t + 1].data_ptr<T_>(), dh.data_ptr<T_>(),
                           d_out[t].data_ptr<T_>(), dc.data_ptr<T_>(),
                           dd.data_ptr<T_>() + s * B * H, dm, d_wx[s].data_ptr<T_>(), b0, b1);
      });
      // d = z W_d + b_d and z = h_hat_t W_z^T + b_z, back to h_hat_t
      at::bmm_out(dz, dd.select(1, s), w_d_t);  // [12, B, Z]
      Tensor dz_t = dz_all[s];
      dz_t.view({B, 12, Z}).copy_(dz.transpose(0, 1));
      dh_hat.addmm_(dz_t, w[W_Z]);  // dL/dh_hat_t
      const T_* c_hat_prev = c_hat_all[t].data_ptr<T_>();
      const T_* c_hat = c_hat_all[t + 1].data_ptr<T_>();
      for_examples(B, 12 * K, [&](int64_t b0, int64_t b1) {  // the hyper cell, back to a_t
        T_* a = acc[at::get_thread_num()].data_ptr<T_>();
        std::vector<T_> scratch(5 * K);
        for (int64_t b = b0; b < b1; ++b) {
          ln_cell_backward(hyper, hyper_grads(a), g + b * ld + 4 * H, K, c_hat_prev + b * K,
                           c_hat + b * K, dh_hat.data_ptr<T_>() + b * K,
                           dc_hat.data_ptr<T_>() + b * K, dm + b * ld + 4 * H, K,
                           scratch.data());
        }
      });
      // h_{t-1} and h_hat_{t-1}, read by this step's two recurrent matmuls (d_out is added
      // in the next step back)
      at::mm_out(dh_hat, dm_all[s].narrow(1, 4 * H, 4 * K), w[W_HH]);
      at::mm_out(dh, dm_all[s], w[W_H_ALL]);
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
