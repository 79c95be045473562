// The time loops of one HyperLSTM layer, forward and backward: hyper_steps.py in C++, with
// each cell's elementwise work (gates, layer norms, state update) fused into one pass per example
// (cell_math.h). The matrix multiplies are the same ATen calls the Python loop makes.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/bmm.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mm.h>

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

template <typename T>
LNCellGrads<T> ln_grads(const std::vector<Tensor>& g, int first) {
  return {g[first].data_ptr<T>(), g[first + 1].data_ptr<T>(), g[first + 2].data_ptr<T>(),
          g[first + 3].data_ptr<T>()};
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
    const LNCell<T_> main = ln_cell<T_>(w, LN_W, H, eps), hyper = ln_cell<T_>(w, HYPER_LN_W, K, hyper_eps);
    const T_* b_d = w[B_D].data_ptr<T_>();
    std::vector<T_> scratch(5 * H + K);
    for (int64_t t = 0; t < T; ++t) {
      // one matmul reads h_{t-1}: [W_h h_{t-1} | the hyper cell's h-columns] += ...
      Tensor g_t = g_buf[t].addmm_(h_all[t], w_h_all_t);  // [B, 4H + 4K]
      g_t.narrow(1, 4 * H, 4 * K).addmm_(h_hat_all[t], w_hh_t);  // a_t, the hyper pre-activation
      const T_* g = g_t.data_ptr<T_>();
      const T_* x = gx[t].data_ptr<T_>();
      T_* c_hat_prev = c_hat_all[t].data_ptr<T_>();
      T_* c_hat = c_hat_all[t + 1].data_ptr<T_>();
      T_* h_hat = h_hat_all[t + 1].data_ptr<T_>();
      for (int64_t b = 0; b < B; ++b) {  // the hyper cell
        ln_cell_forward(hyper, g + b * ld + 4 * H, K, c_hat_prev + b * K, c_hat + b * K,
                        h_hat + b * K, scratch.data());
      }
      // z (one matmul) and the twelve d's (one batched matmul): d [12, B, H]
      Tensor z = z_all[t];
      at::addmm_out(z, w[B_Z], h_hat_all[t + 1], w_z_t);  // [B, 12Z]
      at::bmm_out(d, z.view({B, 12, Z}).transpose(0, 1), w[W_D]);
      const T_* dp = d.data_ptr<T_>();
      T_* c_prev = c_all[t].data_ptr<T_>();
      T_* c = c_all[t + 1].data_ptr<T_>();
      T_* h = h_all[t + 1].data_ptr<T_>();
      for (int64_t b = 0; b < B; ++b) {  // the main cell
        main_preactivations(dp + b * H, B * H, b_d, g + b * ld, x + b * ld, H, scratch.data());
        ln_cell_forward(main, scratch.data(), H, c_prev + b * H, c + b * H, h + b * H,
                        scratch.data() + 4 * H);
      }
    }
  });
}

// Steps end - 1 down to start (a chunk) of the backward pass; see hyper_steps.py.
void hyper_backward(int64_t start, int64_t end, const Tensor& d, const Tensor& gx,
                    const Tensor& g_buf, const Tensor& c_all, const Tensor& c_hat_all,
                    const Tensor& d_out, Tensor dh, Tensor dc, Tensor dh_hat, Tensor dc_hat,
                    Tensor dd, Tensor dz_all, Tensor dm_all, const std::vector<Tensor>& w,
                    const std::vector<Tensor>& ln_grads_, double eps, double hyper_eps) {
  const int64_t n_steps = end - start, B = gx.size(1), H = c_all.size(2), K = c_hat_all.size(2);
  const int64_t Z = w[W_Z].size(0) / 12, ld = 4 * H + 4 * K, d_stride = n_steps * B * H;
  const Tensor w_d_t = w[W_D].transpose(1, 2);  // [12, H, Z]
  Tensor dz = at::empty({12, B, Z}, gx.options());
  AT_DISPATCH_FLOATING_TYPES(gx.scalar_type(), "hyper_backward", [&] {
    using T_ = scalar_t;
    const LNCell<T_> main = ln_cell<T_>(w, LN_W, H, eps), hyper = ln_cell<T_>(w, HYPER_LN_W, K, hyper_eps);
    const LNCellGrads<T_> main_grads = ln_grads<T_>(ln_grads_, 0), hyper_grads = ln_grads<T_>(ln_grads_, 4);
    std::vector<T_> scratch(10 * H + 5 * K);
    T_* y = scratch.data();  // [4, H]: the main cell's pre-activations
    T_* dh_t = y + 9 * H;  // [H]: dL/dh_t
    for (int64_t t = end - 1; t >= start; --t) {
      const int64_t s = t - start;
      const T_* g = g_buf[t].data_ptr<T_>();
      const T_* x = gx[t].data_ptr<T_>();
      const T_* dp = d.data_ptr<T_>() + s * B * H;
      T_* ddp = dd.data_ptr<T_>() + s * B * H;
      T_* dm = dm_all[s].data_ptr<T_>();
      const T_* c_prev = c_all[t].data_ptr<T_>();
      const T_* c = c_all[t + 1].data_ptr<T_>();
      const T_* d_out_t = d_out[t].data_ptr<T_>();
      for (int64_t b = 0; b < B; ++b) {  // the main cell, back to its pre-activations y
        const T_* wh = g + b * ld;
        const T_* wx = x + b * ld;
        main_preactivations(dp + b * H, d_stride, (const T_*)nullptr, wh, wx, H, y);
        const T_* dh_b = dh.data_ptr<T_>() + b * H;
        for_each_vec<T_>(H, [&](int64_t j, int64_t n) {  // dh_t = from step t + 1 + d_out_t
          (load(dh_b + j, n) + load(d_out_t + b * H + j, n)).store(dh_t + j, n);
        });
        T_* dy = ddp + 8 * d_stride + b * H;  // dL/dy_k = dL/dd_b^k
        ln_cell_backward(main, main_grads, y, H, c_prev + b * H, c + b * H, dh_t,
                         dc.data_ptr<T_>() + b * H, dy, d_stride, y + 4 * H);
        for (int k = 0; k < 4; ++k) {  // y = d_h (W_h h) + d_x (W_x x) + d_b: the d's and W_h h
          const T_* dy_k = dy + k * d_stride;
          const T_* d_h = dp + k * d_stride + b * H;
          T_* dd_h = ddp + k * d_stride + b * H;
          T_* dd_x = ddp + (4 + k) * d_stride + b * H;
          for_each_vec<T_>(H, [&](int64_t j, int64_t n) {
            Vec<T_> v = load(dy_k + j, n);
            (v * load(wh + k * H + j, n)).store(dd_h + j, n);
            (v * load(wx + k * H + j, n)).store(dd_x + j, n);
            (v * load(d_h + j, n)).store(dm + b * ld + k * H + j, n);
          });
        }
      }
      // d = z W_d + b_d and z = h_hat_t W_z^T + b_z, back to h_hat_t
      at::bmm_out(dz, dd.select(1, s), w_d_t);  // [12, B, Z]
      Tensor dz_t = dz_all[s];
      dz_t.view({B, 12, Z}).copy_(dz.transpose(0, 1));
      dh_hat.addmm_(dz_t, w[W_Z]);  // dL/dh_hat_t
      const T_* c_hat_prev = c_hat_all[t].data_ptr<T_>();
      const T_* c_hat = c_hat_all[t + 1].data_ptr<T_>();
      for (int64_t b = 0; b < B; ++b) {  // the hyper cell, back to a_t
        ln_cell_backward(hyper, hyper_grads, g + b * ld + 4 * H, K, c_hat_prev + b * K,
                         c_hat + b * K, dh_hat.data_ptr<T_>() + b * K,
                         dc_hat.data_ptr<T_>() + b * K, dm + b * ld + 4 * H, K, y);
      }
      // h_{t-1} and h_hat_{t-1}, read by this step's two recurrent matmuls
      at::mm_out(dh_hat, dm_all[s].narrow(1, 4 * H, 4 * K), w[W_HH]);
      at::mm_out(dh, dm_all[s], w[W_H_ALL]);
    }
  });
}

}  // namespace lstm_edu
