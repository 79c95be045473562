// The Python module of the compiled time loops, built on first use by lstm_edu/fast/compiled.py.
#include <torch/extension.h>

#include "panels.h"

#include <optional>
#include <vector>

namespace lstm_edu {
using at::Tensor;
void lstm_forward(Tensor act, const Tensor& w_h, const std::optional<Tensor>& panels,
                  int64_t kc, const Tensor& b, const Tensor& h0, Tensor c_all, Tensor out);
void lstm_backward(int64_t start, int64_t end, const Tensor& act, const Tensor& c_all,
                   const Tensor& w_h_t, const std::optional<Tensor>& panels_t, int64_t kc_t,
                   const Tensor& d_out, Tensor dh, Tensor dc, Tensor d_gates);
void hyper_forward(const Tensor& gx, Tensor g_buf, Tensor h_all, Tensor c_all, Tensor h_hat_all,
                   Tensor c_hat_all, Tensor z_all, Tensor d, const std::vector<Tensor>& w,
                   const std::optional<Tensor>& panels, int64_t kc, double eps,
                   double hyper_eps);
void hyper_backward(int64_t start, int64_t end, const Tensor& z, const Tensor& gx,
                    const Tensor& g_buf, const Tensor& c_all, const Tensor& c_hat_all,
                    const Tensor& d_out, Tensor dh, Tensor dc, Tensor dh_hat, Tensor dc_hat,
                    Tensor dd, Tensor dz_all, Tensor dm_all, Tensor d_wx,
                    const std::vector<Tensor>& w, const Tensor& w_h_all_t,
                    const std::optional<Tensor>& panels_t, int64_t kc_t,
                    const std::vector<Tensor>& ln_grads,
                    double eps, double hyper_eps);
}  // namespace lstm_edu

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "The time loops of FastLSTM and FastHyperLSTM layers, compiled (lstm_edu.fast)";
  m.def("lstm_forward", &lstm_edu::lstm_forward);
  m.def("lstm_backward", &lstm_edu::lstm_backward);
  m.def("hyper_forward", &lstm_edu::hyper_forward);
  m.def("hyper_backward", &lstm_edu::hyper_backward);
  m.def("panel_mm", &lstm_edu::panel_mm, "y = x W^T with W as panels (panels.h)");
  m.def("panel_width", [](const at::Tensor& like) {
    return like.scalar_type() == at::kDouble ? lstm_edu::panel_width<double>()
                                             : lstm_edu::panel_width<float>();
  }, "columns per panel for tensors of like's dtype");
}
