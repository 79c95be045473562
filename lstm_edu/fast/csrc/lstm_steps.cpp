// The time loops of one LSTM layer, forward and backward: lstm_steps.py in C++, with each
// step's elementwise work fused into one pass over the numbers (see lstm_steps.py for the
// equations). The recurrent matrix multiplies are panels.h's: at::mm's results, as in the
// Python loop.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <optional>

#include "cell_math.h"
#include "panels.h"

namespace lstm_edu {

using at::Tensor;

// act[t] holds W_x x_t (gates i, f, g, o) on entry and sigma(i), sigma(f), tanh(g), sigma(o) on
// return, with the pre-activations (W_x x_t + W_h h_{t-1}) + b, W_h h_{t-1} in rec;
// c = sigma(f) c_prev + sigma(i) tanh(g), h = sigma(o) tanh(c). Rows [B, ...], contiguous.
// (tanh is PyTorch's vectorised float tanh here: the LSTM's Python loop rounds differently anyway,
// with its tanh(x) = 2 sigma(2x) - 1.)
template <typename T>
void lstm_cell(T* act, const T* rec, const T* b_, const T* c_prev, T* c, T* h, int64_t B,
               int64_t N_h) {
  for_examples(B, 4 * N_h, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      T* a = act + b * 4 * N_h;
      const T* w = rec + b * 4 * N_h;
      const int64_t r = b * N_h;
      auto pre = [&](int64_t k, int64_t j, int64_t n) {  // gate k's (W_x x + W_h h) + b
        return load(a + k * N_h + j, n) + load(w + k * N_h + j, n) + load(b_ + k * N_h + j, n);
      };
      for_each_vec<T>(N_h, [&](int64_t j, int64_t n) {
        const int64_t v = n == Vec<T>::size() ? n : 0;  // vectorised exp on whole vectors only
        Vec<T> i = sigmoid(pre(0, j, n), n, v);
        Vec<T> f = sigmoid(pre(1, j, n), n, v);
        Vec<T> g = pre(2, j, n).tanh();
        Vec<T> o = sigmoid(pre(3, j, n), n, v);
        Vec<T> c_t = f * load(c_prev + r + j, n) + i * g;
        i.store(a + j, n), f.store(a + N_h + j, n), g.store(a + 2 * N_h + j, n);
        o.store(a + 3 * N_h + j, n);
        c_t.store(c + r + j, n);
        (o * c_t.tanh()).store(h + r + j, n);
      });
    }
  });
}

// One step back: from dL/dh_t = dh + d_out (dh from step t + 1, d_out through out[t]) and
// dc = dL/dc_t (from step t + 1) to the gates' gradients d_gates [B, 4 N_h] and
// dc = dL/dc_{t-1} (in place).
template <typename T>
void lstm_cell_backward(const T* act, const T* c_prev, const T* c, const T* dh, const T* d_out,
                        T* dc, T* d_gates, int64_t B, int64_t N_h) {
  for_examples(B, 4 * N_h, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const T* a = act + b * 4 * N_h;
      T* dg = d_gates + b * 4 * N_h;
      const int64_t r = b * N_h;
      for_each_vec<T>(N_h, [&](int64_t j, int64_t n) {
        Vec<T> i = load(a + j, n), f = load(a + N_h + j, n);
        Vec<T> g = load(a + 2 * N_h + j, n), o = load(a + 3 * N_h + j, n);
        Vec<T> tanh_c = load(c + r + j, n).tanh();
        Vec<T> d_h = load(dh + r + j, n) + load(d_out + r + j, n);
        Vec<T> d_c = load(dc + r + j, n) + d_h * o * tanh_grad(tanh_c);  // dc_t
        (d_c * g * sigmoid_grad(i)).store(dg + j, n);
        (d_c * load(c_prev + r + j, n) * sigmoid_grad(f)).store(dg + N_h + j, n);
        (d_c * i * tanh_grad(g)).store(dg + 2 * N_h + j, n);
        (d_h * tanh_c * sigmoid_grad(o)).store(dg + 3 * N_h + j, n);
        (d_c * f).store(dc + r + j, n);  // dc_{t-1}
      });
    }
  });
}

// w_h [4 N_h, N_h] (contiguous) and its Panels (matmul.py), if any
void lstm_forward(Tensor act, const Tensor& w_h, const std::optional<Tensor>& panels,
                  int64_t kc, const Tensor& b, const Tensor& h0, Tensor c_all, Tensor out) {
  const int64_t T = act.size(0), B = act.size(1), N_h = w_h.size(1);
  Tensor h = h0;
  Tensor rec = at::empty({B, 4 * N_h}, act.options());
  for (int64_t t = 0; t < T; ++t) {
    Tensor a = act[t];
    times_w_t(rec, h, w_h, panels, kc);  // W_h h_{t-1}: all four gates in one matmul
    AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstm_forward", [&] {
      lstm_cell<scalar_t>(a.data_ptr<scalar_t>(), rec.data_ptr<scalar_t>(),
                          b.data_ptr<scalar_t>(), c_all[t].data_ptr<scalar_t>(),
                          c_all[t + 1].data_ptr<scalar_t>(), out[t].data_ptr<scalar_t>(), B, N_h);
    });
    h = out[t];
  }
}

// w_h_t = W_h^T [N_h, 4 N_h] (contiguous) and its Panels, if any (as in lstm_forward)
void lstm_backward(int64_t start, int64_t end, const Tensor& act, const Tensor& c_all,
                   const Tensor& w_h_t, const std::optional<Tensor>& panels_t, int64_t kc_t,
                   const Tensor& d_out, Tensor dh, Tensor dc, Tensor d_gates) {
  const int64_t B = act.size(1), N_h = w_h_t.size(0);
  for (int64_t t = end - 1; t >= start; --t) {
    Tensor dg = d_gates[t - start];
    AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstm_backward", [&] {
      lstm_cell_backward<scalar_t>(
          act[t].data_ptr<scalar_t>(), c_all[t].data_ptr<scalar_t>(),
          c_all[t + 1].data_ptr<scalar_t>(), dh.data_ptr<scalar_t>(),
          d_out[t].data_ptr<scalar_t>(), dc.data_ptr<scalar_t>(), dg.data_ptr<scalar_t>(), B, N_h);
    });
    times_w_t(dh, dg, w_h_t, panels_t, kc_t);  // dg W_h: the part of dL/dh_{t-1} from step t
  }
}

}  // namespace lstm_edu
