// y = x W^T for the time loops: oneDNN's inner product with the weight reordered once into
// oneDNN's layout (matmul.py's Linear does the reordering and passes `packed`), else at::mm.
// The same operator as matmul.py's `linear`, so the Python and the compiled loops compute the
// same numbers.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/mm.h>

#include <optional>
#include <string_view>

namespace lstm_edu {

inline at::Tensor linear(const at::Tensor& x, const at::Tensor& w,
                         const std::optional<at::Tensor>& packed) {
  if (!packed.has_value()) return at::mm(x, w.t());
  // mkldnn::_linear_pointwise(Tensor X, Tensor W, Tensor? B, str attr, Scalar?[] scalars,
  //                           str? algorithm) -> Tensor, as torch.ops.mkldnn calls it
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("mkldnn::_linear_pointwise", "")
          .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&,
                            std::string_view, c10::List<std::optional<at::Scalar>>,
                            std::optional<std::string_view>)>();
  return op.call(x, *packed, std::nullopt, "none", c10::List<std::optional<at::Scalar>>(), "");
}

}  // namespace lstm_edu
