r"""The time loops of one HyperLSTM layer, in Python: the part of :class:`HyperLayerFunction`
that must go step by step. ``csrc/hyper_steps.cpp`` is the same two functions in C++ (same
arguments, same results), each cell's elementwise work fused into one vectorised pass;
``compiled.py`` chooses between them.

Notation of the buffers (``[T, ...]``, written by the forward pass, read by the backward pass):
``gx [T, B, 4N_h + 4N_ĥ]`` the input terms ``[W_x x_t | the hyper cell's W x_t + b]``;
``g_buf`` (same shape) ``[W_h h_{t-1} | ā_t]``, ``ā_t`` the hyper cell's pre-activations;
``h_all, c_all [T+1, B, N_h]`` and ``h_hat_all, c_hat_all [T+1, B, N_ĥ]`` the states;
``z_all [T, B, 12 N_z]``.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import torch

from .pointwise import cell_update, layer_norm_dx, sigmoid_grad


class HyperWeights(NamedTuple):
    """A layer's weights in the order of :meth:`PackedHyperCell.weights` (shapes there)."""

    w_x_all: torch.Tensor
    b_x_all: torch.Tensor
    w_h_all: torch.Tensor
    w_hh: torch.Tensor
    w_z: torch.Tensor
    b_z: torch.Tensor
    w_d: torch.Tensor
    b_d: torch.Tensor
    ln_w: torch.Tensor
    ln_b: torch.Tensor
    ln_c_w: torch.Tensor
    ln_c_b: torch.Tensor
    hyper_ln_w: torch.Tensor
    hyper_ln_b: torch.Tensor
    hyper_ln_c_w: torch.Tensor
    hyper_ln_c_b: torch.Tensor


def ln_cell(pre: torch.Tensor, ln_w, ln_b, ln_c_w, ln_c_b, eps: float, c_prev: torch.Tensor,
            c_out: torch.Tensor, h_out: torch.Tensor, dim: int) -> None:
    r"""One step of a layer-normalised LSTM cell, in place: the gates ``i, f, g, o`` along axis
    ``dim`` of ``pre`` are layer-normalised, :math:`c_t = \sigma(f) c_{t-1} + \sigma(i)\tanh(g)`
    goes to ``c_out`` and :math:`h_t = \sigma(o) \tanh(LN_c(c_t))` to ``h_out``."""
    N = c_prev.shape[-1]
    n = torch.native_layer_norm(pre, (N,), None, None, eps)[0]
    o = cell_update(torch.addcmul(ln_b, n, ln_w), c_prev, c_out, dim)
    n = torch.native_layer_norm(c_out, (N,), ln_c_w, ln_c_b, eps)[0]
    torch.mul(o, n.tanh_(), out=h_out)


def hyper_forward(gx, g_buf, h_all, c_all, h_hat_all, c_hat_all, z_all, d,
                  w: Sequence[torch.Tensor], panels: Optional[torch.Tensor], kc: int,
                  eps: float, hyper_eps: float) -> None:
    r"""Steps ``0 .. T-1`` forward, writing ``g_buf``, the states and ``z`` (row 0 of the
    states holds the initial state). ``gx`` holds :math:`W_x x_t` without the bias (the hyper
    cell's, in ``w.b_x_all``, is added here); ``d [12, B, N_h]`` is scratch.

    The per-step matmul is ``torch.mm``, not oneDNN's (:mod:`~lstm_edu.fast.matmul`): it rounds
    as the reference's matmuls do, and a three-layer float32 HyperLSTM amplifies a difference of
    one rounding error in its forward pass past the 1e-5 that the tests allow (measured: 2e-5
    with oneDNN here, 7e-6 with ``torch.mm``). ``panels``, ``kc``: ``w_h_all`` as
    :class:`~lstm_edu.fast.matmul.Panels`, with which the compiled loop computes the same
    product faster, bit for bit; this loop does not use them.

    .. math::
        [W_h h_{t-1} \,|\, \bar a_t] &\mathrel{+}= h_{t-1} W_{h,all}^\top,
            \qquad \bar a_t \mathrel{+}= \hat h_{t-1} \hat W_h^\top \\
        \hat c_t, \hat h_t &= \text{the hyper cell (layer-normalised) on } \bar a_t \\
        z_t &= \hat h_t W_z^\top + b_z, \qquad d^j_t = z^j_t W_d^j + b_d^j
            \quad (j = h, x, b \text{ for each gate}) \\
        c_t, h_t &= \text{the main cell on }
            \bar y^k_t = d_h^k \odot (W_h^k h_{t-1}) + d_x^k \odot (W_x^k x_t) + d_b^k
    """
    w = HyperWeights(*w)
    T, B, _ = gx.shape
    N_h, N_hat = h_all.shape[2], h_hat_all.shape[2]
    d_h, d_x, d_b = d.view(3, 4, B, N_h).unbind(0)  # [4, B, N_h] each
    y = gx.new_empty(4, B, N_h)  # ȳ: the main gates before their layer norms
    w_h_all_t, w_hh_t, w_z_t = w.w_h_all.t(), w.w_hh.t(), w.w_z.t()
    hyper_input = gx[:, :, 4 * N_h:] + w.b_x_all[4 * N_h:]  # the hyper cell's W x_t + b, all steps
    for t in range(T):
        # --- one matmul reads h_{t-1}: the main gates' W_h h and the hyper cell's h-columns
        g_t = torch.mm(h_all[t], w_h_all_t, out=g_buf[t])  # [B, 4N_h + 4N_ĥ]
        a_t = g_t[:, 4 * N_h:].addmm_(h_hat_all[t], w_hh_t).add_(hyper_input[t])  # ā_t [B, 4N_ĥ]
        ln_cell(a_t.view(B, 4, N_hat), w.hyper_ln_w, w.hyper_ln_b, w.hyper_ln_c_w, w.hyper_ln_c_b,
                hyper_eps, c_hat_all[t], c_hat_all[t + 1], h_hat_all[t + 1], dim=1)
        # --- z (one matmul) and the twelve d's (one batched matmul)
        z = torch.addmm(w.b_z, h_hat_all[t + 1], w_z_t, out=z_all[t])  # [B, 12N_z]
        hyper_d(z, w.w_d, w.b_d, d)  # [12, B, N_h]
        # --- the main gates, gate-major [4, B, N_h]
        wh = g_t[:, :4 * N_h].view(B, 4, N_h).transpose(0, 1)
        wx = gx[t, :, :4 * N_h].view(B, 4, N_h).transpose(0, 1)
        torch.addcmul(d_b, d_h, wh, out=y).addcmul_(d_x, wx)
        ln_cell(y, w.ln_w, w.ln_b, w.ln_c_w, w.ln_c_b, eps, c_all[t], c_all[t + 1],
                h_all[t + 1], dim=0)


def hyper_d(z: torch.Tensor, w_d: torch.Tensor, b_d: torch.Tensor, d: torch.Tensor) -> None:
    """The twelve scaling vectors of ``R`` rows, written into ``d [12, R, N_h]``: map ``m`` is
    ``z[:, m N_z : (m+1) N_z] @ w_d[m]``, plus ``b_d`` for the four ``d_b`` maps (``m >= 8``);
    ``z [R, 12 N_z]``, ``w_d [12, N_z, N_h]``, ``b_d [4, 1, N_h]``."""
    R, N_z = z.shape[0], w_d.shape[1]
    torch.bmm(z.view(R, 12, N_z).transpose(0, 1), w_d, out=d)
    d[8:12] += b_d


class _LNCellChunk:
    r"""A layer-normalised cell's tensors of a chunk of steps, recomputed from its
    pre-activations ``pre`` (gates on axis ``dim``) and states ``c [n+1, B, N]`` in a few large
    calls: the gate values, the layer norms' normalised inputs and statistics, and the factors
    of the backward step that do not involve the carried gradients."""

    def __init__(self, pre, c, ln_w, ln_b, ln_c_w, ln_c_b, eps, dim):
        N = c.shape[-1]
        self.pre, self.c, self.dim, self.ln_c_w, self.ln_w = pre, c, dim, ln_c_w, ln_w
        self.n_y, self.mean_y, self.rstd_y = torch.native_layer_norm(pre, (N,), None, None, eps)
        act = torch.addcmul(ln_b, self.n_y, ln_w)
        i, self.f, g, o = act.unbind(dim)  # [n, B, N] each
        g.tanh_()
        act.narrow(dim, 0, 2).sigmoid_()
        o.sigmoid_()
        self.n_c, self.mean_c, self.rstd_c = torch.native_layer_norm(c[1:], (N,), None, None, eps)
        tanh_c = torch.addcmul(ln_c_b, self.n_c, ln_c_w).tanh_()  # tanh(LN_c(c_t))
        self.k_c = tanh_c.square().neg_().add_(1).mul_(o)  # dLN_c(c_t) = dh ⊙ σ(o)(1 - tanh²)
        self.k_o = sigmoid_grad(o).mul_(tanh_c)  # d(o after LN) = dh ⊙ tanh(LN_c(c)) σ'(o)
        self.k_ifg = torch.stack([sigmoid_grad(i).mul_(g), sigmoid_grad(self.f).mul_(c[:-1]),
                                  g.square().neg_().add_(1).mul_(i)], dim=dim)  # ⊙ dc

    def step_back(self, s, dh, dc, dy_out, dn_c_out):
        """One step back through the cell at chunk row ``s``: from ``dh`` (dL/dh_t) and ``dc``
        (what reaches c_t from later steps) to ``dL/d pre`` (returned), ``dc_{t-1}`` (returned)
        and, for the layer norms' weight gradients, dL/d(gates after LN) into ``dy_out`` and
        dL/d LN_c(c_t) into ``dn_c_out``."""
        dn_c = torch.mul(dh, self.k_c[s], out=dn_c_out)
        dc = dc + layer_norm_dx(dn_c, self.c[s + 1], self.mean_c[s], self.rstd_c[s], self.ln_c_w)
        if self.dim == 1:  # the main cell's gate-major [n, 4, B, N] or the hyper's [n, B, 4, N]
            torch.mul(self.k_ifg[s], dc.unsqueeze(0), out=dy_out[:3])
            torch.mul(self.k_o[s], dh, out=dy_out[3])
        else:
            torch.mul(self.k_ifg[s], dc.unsqueeze(1), out=dy_out[:, :3])
            torch.mul(self.k_o[s], dh, out=dy_out[:, 3])
        d_pre = layer_norm_dx(dy_out * self.ln_w, self.pre[s], self.mean_y[s], self.rstd_y[s])
        return d_pre, dc * self.f[s]

    def add_ln_grads(self, dy, dn_c, grads) -> None:
        """Adds the chunk's layer-norm weight gradients (from the ``dy``, ``dn_c`` that
        :meth:`step_back` wrote) to ``grads = (d_ln_w, d_ln_b, d_ln_c_w, d_ln_c_b)``."""
        d_ln_w, d_ln_b, d_ln_c_w, d_ln_c_b = grads
        dims = (0, 2) if self.dim == 1 else (0, 1)  # over steps and examples
        d_ln_w += (dy * self.n_y).sum(dims).view_as(d_ln_w)
        d_ln_b += dy.sum(dims).view_as(d_ln_b)
        d_ln_c_w += (dn_c * self.n_c).sum((0, 1))
        d_ln_c_b += dn_c.sum((0, 1))


def hyper_backward(start, end, z, gx, g_buf, c_all, c_hat_all, d_out, dh, dc, dh_hat, dc_hat,
                   dd, dz_all, dm_all, d_wx, w: Sequence[torch.Tensor], w_h_all_t, panels_t,
                   kc_t, ln_grads, eps, hyper_eps):
    r"""Steps ``end-1`` down to ``start`` (a chunk) of the backward pass, in place.

    Per step, backwards (``LN'`` is :func:`layer_norm_dx`; for each cell, first ``dc_t`` from
    ``dh_t`` through :math:`h_t = \sigma(o) \tanh(LN_c(c_t))`, then the gates' gradients):

    .. math::
        d\bar y_t &= LN'(\text{the main cell's gates' gradients}), \qquad
            dd_t = (d\bar y_t \odot W_h h_{t-1},\; d\bar y_t \odot W_x x_t,\; d\bar y_t) \\
        dz^j_t &= dd^j_t\, W_d^{j\top}, \qquad
            d\hat h_t = d\hat h_t^{\,\text{from } t+1} + dz_t W_z, \quad
            d\bar a_t = LN'(\text{the hyper cell's gates' gradients}) \\
        d\hat h_{t-1}^{\,\text{from } t} &= d\bar a_t \hat W_h, \qquad
            dh_{t-1} = d\mathrm{out}_{t-1} + [d\bar y_t \odot d_h \,|\, d\bar a_t]\, W_{h,all}

    ``z [n, B, 12N_z]``: the chunk's ``z_t``, from which its ``d_h, d_x, d_b`` are recomputed
    (:func:`hyper_d`; the compiled loop recomputes them example by example). ``dh, dc, dh_hat,
    dc_hat`` carry what reaches step ``end-1``'s states from later steps (``d_out`` excluded)
    and return what reaches step ``start-1``'s. Written for the weight gradients:
    ``dd [12, n, B, N_h]`` (dL/dd), ``dz_all [n, B, 12N_z]``, ``dm_all [n, B, 4N_h + 4N_ĥ]``
    (dL/d``g_buf``), ``d_wx [n, B, 4N_h]`` (dL/d(:math:`W_x x_t`)). ``w_h_all_t`` is
    :math:`W_{h,all}^\top`, contiguous (``panels_t``, ``kc_t``: its
    :class:`~lstm_edu.fast.matmul.Panels`, for the compiled loop). The layer norms' weight
    gradients are added to ``ln_grads`` (main cell's ``d_ln_w, d_ln_b, d_ln_c_w, d_ln_c_b``, then
    the hyper cell's).
    """
    w = HyperWeights(*w)
    n, B = end - start, gx.shape[1]
    N_h, N_hat, N_z = c_all.shape[2], c_hat_all.shape[2], w.w_z.shape[0] // 12
    # --- the chunk's forward tensors again: the d's, ȳ from them, then both cells' gates
    d = gx.new_empty(12, n * B, N_h)
    hyper_d(z.reshape(n * B, -1), w.w_d, w.b_d, d)
    d_h, d_x, d_b = d.view(3, 4, n, B, N_h).unbind(0)  # [4, n, B, N_h] each
    wh = g_buf[start:end, :, :4 * N_h].view(n, B, 4, N_h).permute(2, 0, 1, 3)  # W_h h_{t-1}
    wx = gx[start:end, :, :4 * N_h].view(n, B, 4, N_h).permute(2, 0, 1, 3)  # W_x x_t
    y = gx.new_empty(n, 4, B, N_h)  # ȳ, step-major: each step's [4, B, N_h] is contiguous
    torch.addcmul(d_b, d_h, wh, out=y.transpose(0, 1)).addcmul_(d_x, wx)
    main = _LNCellChunk(y, c_all[start:end + 1], w.ln_w, w.ln_b, w.ln_c_w, w.ln_c_b, eps, 1)
    a = g_buf[start:end, :, 4 * N_h:].reshape(n, B, 4, N_hat)  # ā_t
    hyper = _LNCellChunk(a, c_hat_all[start:end + 1], w.hyper_ln_w, w.hyper_ln_b,
                         w.hyper_ln_c_w, w.hyper_ln_c_b, hyper_eps, 2)
    dy, dn_c = gx.new_empty(n, 4, B, N_h), gx.new_empty(n, B, N_h)  # for the LN weight gradients
    dy_hat, dn_c_hat = gx.new_empty(n, B, 4, N_hat), gx.new_empty(n, B, N_hat)
    w_d_t = w.w_d.transpose(1, 2)  # [12, N_h, N_z]
    dh_next, dc_next, dh_hat_next, dc_hat_next = dh, dc, dh_hat, dc_hat
    for s in range(n - 1, -1, -1):  # step t = start + s, backwards
        # --- the main cell, back to ȳ_t
        d_ybar, dc_next = main.step_back(s, dh_next + d_out[start + s], dc_next, dy[s], dn_c[s])
        # --- ȳ = d_h ⊙ (W_h h) + d_x ⊙ (W_x x) + d_b: the d's and W_h h
        torch.mul(d_ybar, wh[:, s], out=dd[0:4, s])
        torch.mul(d_ybar, wx[:, s], out=dd[4:8, s])
        dd[8:12, s] = d_ybar
        dm = dm_all[s]
        torch.mul(d_ybar, d_h[:, s], out=dm[:, :4 * N_h].view(B, 4, N_h).transpose(0, 1))
        torch.mul(d_ybar, d_x[:, s], out=d_wx[s].view(B, 4, N_h).transpose(0, 1))
        # --- d = z W_d + b_d and z = ĥ_t W_z^T + b_z, back to ĥ_t
        dz_all[s].view(B, 12, N_z).copy_(torch.bmm(dd[:, s], w_d_t).transpose(0, 1))
        dh_hat_t = torch.addmm(dh_hat_next, dz_all[s], w.w_z)  # dĥ_t [B, N_ĥ]
        # --- the hyper cell, back to ā_t
        da, dc_hat_next = hyper.step_back(s, dh_hat_t, dc_hat_next, dy_hat[s], dn_c_hat[s])
        dm[:, 4 * N_h:] = da.view(B, 4 * N_hat)
        # --- h_{t-1} and ĥ_{t-1}, read by this step's two recurrent matmuls
        dh_hat_next = dm[:, 4 * N_h:] @ w.w_hh
        dh_next = torch.mm(dm, w_h_all_t.t())  # dm W_{h,all}
    main.add_ln_grads(dy, dn_c, ln_grads[:4])
    hyper.add_ln_grads(dy_hat, dn_c_hat, ln_grads[4:])
    for carried, value in zip((dh, dc, dh_hat, dc_hat),
                              (dh_next, dc_next, dh_hat_next, dc_hat_next)):
        carried.copy_(value)
