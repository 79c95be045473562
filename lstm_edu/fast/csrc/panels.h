// y = x W^T for the time loops' per-step product, with W packed once into panels (matmul.py's
// Panels) and each output summed in a given order: blocks of kc terms, each block a chain of
// fused multiply-adds from zero, the blocks then added one by one. That is the order in which
// MKL's sgemm sums at these shapes (kc = 128 for 256 terms here), so with matmul.py's kc the
// result is torch.mm's bit for bit, without MKL's cost of packing W again at every call.
//
// The panels: W [N, K] cut into panels of P = 2 vectors of columns (32 floats with AVX-512),
// panels[p][k][0..P) = W[p P + 0..P, k] (zero past N), so that a step reads each panel front to
// back: from memory once, then from the cache for each further group of rows. A tile is 4 rows
// of x times one panel: 8 vector sums in registers.
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/record_function.h>
#include <ATen/ops/mm.h>

#include <algorithm>
#include <cstdint>
#include <optional>

namespace lstm_edu {

constexpr int PANEL_VECS = 2;  // vectors of columns per panel

template <typename T>
int64_t panel_width() {
  return PANEL_VECS * at::vec::Vectorized<T>::size();
}

// Rows 0..R of x (row stride ld_x) times one panel -> the panel's `cols` columns of y (row
// stride ld_y).
template <typename T, int R>
inline void panel_tile(const T* x, int64_t ld_x, const T* panel, int64_t K, int64_t kc, T* y,
                       int64_t ld_y, int64_t cols) {
  using V = at::vec::Vectorized<T>;
  constexpr int P = PANEL_VECS * V::size();
  for (int64_t k0 = 0; k0 < K; k0 += kc) {
    const int64_t k1 = std::min(K, k0 + kc);
    V acc[R][PANEL_VECS];
    for (int i = 0; i < R; ++i)
      for (int v = 0; v < PANEL_VECS; ++v) acc[i][v] = V(T(0));
    for (int64_t k = k0; k < k1; ++k) {  // the block's chain: acc = x[i, k] W[., k] + acc
      V w[PANEL_VECS];
      for (int v = 0; v < PANEL_VECS; ++v) w[v] = V::loadu(panel + k * P + v * V::size());
      for (int i = 0; i < R; ++i) {
        const V xi(x[i * ld_x + k]);
        for (int v = 0; v < PANEL_VECS; ++v) acc[i][v] = at::vec::fmadd(xi, w[v], acc[i][v]);
      }
    }
    for (int i = 0; i < R; ++i) {  // the first block is y; each later one is added to it
      for (int v = 0; v < PANEL_VECS; ++v) {
        const int64_t n = std::min<int64_t>(V::size(), cols - v * V::size());
        if (n <= 0) break;
        T* out = y + i * ld_y + v * V::size();
        if (k0 == 0) {
          acc[i][v].store(out, n);
        } else {
          (V::loadu(out, n) + acc[i][v]).store(out, n);
        }
      }
    }
  }
}

// y [M, N] (rows contiguous) = x [M, K] W^T, W as panels [ceil(N / P), K, P]; the panels are
// split between PyTorch's CPU threads.
inline void panel_mm(at::Tensor y, const at::Tensor& x, const at::Tensor& panels, int64_t kc) {
  TORCH_CHECK(x.dim() == 2 && y.dim() == 2 && panels.dim() == 3 && x.stride(1) == 1 &&
                  y.stride(1) == 1 && panels.is_contiguous() && kc > 0 && x.size(1) > 0 &&
                  x.size(1) == panels.size(1) && x.size(0) == y.size(0) &&
                  x.scalar_type() == y.scalar_type() && x.scalar_type() == panels.scalar_type() &&
                  x.is_cpu() && y.is_cpu() && panels.is_cpu(),
              "panel_mm: expected CPU tensors of one dtype, y [M, N] and x [M, K] with "
              "contiguous rows, panels [n, K, P], K > 0, kc > 0; got y ", y.sizes(), ", x ",
              x.sizes(), ", panels ", panels.sizes(), ", kc ", kc);
  RECORD_FUNCTION("lstm_edu::panel_mm", std::vector<c10::IValue>());  // seen by torch.profiler
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "panel_mm", [&] {
    using T = scalar_t;
    const int64_t M = x.size(0), K = x.size(1), N = y.size(1), P = panel_width<T>();
    TORCH_CHECK(panels.size(2) == P && panels.size(0) == (N + P - 1) / P,
                "panel_mm: expected panels [", (N + P - 1) / P, ", K, ", P, "] for ", N,
                " columns; got ", panels.sizes());
    const int64_t ld_x = x.stride(0), ld_y = y.stride(0);
    const T* xp = x.data_ptr<T>();
    const T* wp = panels.data_ptr<T>();
    T* yp = y.data_ptr<T>();
    // at least ~32k multiply-adds per thread
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, M * K * P));
    at::parallel_for(0, panels.size(0), grain, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const T* panel = wp + p * K * P;
        const int64_t cols = std::min(P, N - p * P);
        int64_t i = 0;
        for (; i + 4 <= M; i += 4)
          panel_tile<T, 4>(xp + i * ld_x, ld_x, panel, K, kc, yp + i * ld_y + p * P, ld_y, cols);
        for (; i < M; ++i)
          panel_tile<T, 1>(xp + i * ld_x, ld_x, panel, K, kc, yp + i * ld_y + p * P, ld_y, cols);
      }
    });
  });
}

// y = x W^T (W [N, K], contiguous) for the time loops: panel_mm where matmul.py's Panels found a
// kc that gives at::mm's result (`panels` given), else at::mm itself, the Python loops' call.
inline void times_w_t(at::Tensor y, const at::Tensor& x, const at::Tensor& w,
                      const std::optional<at::Tensor>& panels, int64_t kc) {
  if (panels.has_value()) {
    panel_mm(y, x, *panels, kc);
  } else {
    at::mm_out(y, x, w.t());
  }
}

}  // namespace lstm_edu
