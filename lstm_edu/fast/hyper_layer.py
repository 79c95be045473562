"""FastHyperLSTM: a hand-written backward, one autograd.Function per layer over the whole
sequence."""

from __future__ import annotations

from typing import List, Tuple

import torch
from torch.autograd.function import once_differentiable

from ..models.hyper_lstm import HyperLSTM
from ..models.stack import State
from .hyper_tape import PackedHyperCell, hyper_layer
from .pointwise import Workspace, cell_update, layer_norm_dx, sigmoid_grad


class HyperLayerFunction(torch.autograd.Function):
    r"""One HyperLSTM layer over a whole sequence, with a hand-written backward.

    ``forward(x [T, B, I], h0 [B, H], c0 [B, H], h_hat0 [B, K], c_hat0 [B, K], *weights)
    -> (out [T, B, H], c_T [B, H], h_hat_T [B, K], c_hat_T [B, K])``; ``out[-1]`` is ``h_T``.
    ``weights`` are :meth:`PackedHyperCell.weights` (their shapes are listed there) and the two
    layer norms' ``eps``.

    The forward pass is :func:`hyper_layer` without autograd. Per step, in the order computed
    (:math:`\hat{\ }` marks the hyper cell, :math:`\bar{\ }` a pre-activation before its layer
    norm):

    .. math::
        [W_h h_{t-1} \,|\, \bar a_t] &= h_{t-1} W_{h,all}^\top + [0 \,|\, W_{x}^{hyper} x_t + b],
            \qquad \bar a_t \mathrel{+}= \hat h_{t-1} \hat W_h^\top \\
        \hat c_t &= \sigma(\hat f) \odot \hat c_{t-1} + \sigma(\hat i) \odot \tanh(\hat g), \qquad
            \hat h_t = \sigma(\hat o) \odot \tanh(LN(\hat c_t)) \quad (\hat i, \hat f, \hat g, \hat
            o = LN_k(\bar a_t)) \\
        z_t &= \hat h_t W_z^\top + b_z, \qquad d^j_t = z^j_t W_d^j + b_d^j \quad (j = h, x, b \text{
        for each gate}) \\
        \bar y^k_t &= d_h^k \odot (W_h^k h_{t-1}) + d_x^k \odot (W_x^k x_t) + d_b^k, \qquad
            i, f, g, o = LN_k(\bar y_t) \\
        c_t &= \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g), \qquad h_t = \sigma(o) \odot
        \tanh(LN_c(c_t))

    It keeps for the backward pass only the states, ``z_t``, and the matmul results
    :math:`W_h h_{t-1}`, :math:`\bar a_t`, :math:`W_x x_t` (buffers ``[T, ...]`` that it writes
    anyway);
    the backward pass recomputes ``d``, :math:`\bar y`, the gate activations and the layer norms
    for a chunk of steps at a time, in a few large calls. Writing a large tensor that has just been
    allocated is slow on a CPU (the operating system maps its memory page by page on first touch),
    so recomputing is cheaper than storing: the per-step temporaries of both passes are small
    buffers, reused from one step (or chunk) to the next.
    """

    # Steps per chunk of the backward pass (its temporaries are [chunk, B, ...], reused).
    chunk = 16

    @staticmethod
    def forward(
        ctx,
        x,
        h0,
        c0,
        h_hat0,
        c_hat0,
        w_x_all,
        b_x_all,
        w_h_all,
        w_hh,
        w_z,
        b_z,
        w_d,
        b_d,
        ln_w,
        ln_b,
        ln_c_w,
        ln_c_b,
        hyper_ln_w,
        hyper_ln_b,
        hyper_ln_c_w,
        hyper_ln_c_b,
        eps,
        hyper_eps,
    ):
        T, B, I = x.shape
        H, K = h0.shape[1], h_hat0.shape[1]
        Z = w_z.shape[0] // 12
        # Input projections of all steps: gx = [W_x x_t (main gates) | the hyper cell's W x_t + b]
        gx = torch.addmm(b_x_all, x.reshape(T * B, I), w_x_all.t()).view(T, B, 4 * H + 4 * K)
        # g_buf[t] becomes [W_h h_{t-1} | ā_t]: the hyper part starts as its input term, the main
        # part at 0
        g_buf = gx.clone()
        g_buf[:, :, : 4 * H] = 0
        # The states of every step (kept for the backward pass) and z_t
        h_all, c_all = (
            x.new_empty(T + 1, B, H),
            x.new_empty(T + 1, B, H),
        )  # h_0 ... h_T, c_0 ... c_T
        h_hat_all, c_hat_all = x.new_empty(T + 1, B, K), x.new_empty(T + 1, B, K)
        h_all[0], c_all[0], h_hat_all[0], c_hat_all[0] = h0, c0, h_hat0, c_hat0
        z_all = x.new_empty(T, B, 12 * Z)  # z_h, z_x, z_b of the four gates
        # Per-step temporaries, reused
        act_hat = x.new_empty(B, 4, K)  # σ(î), σ(f̂), tanh(ĝ), σ(ô)
        d = x.new_empty(12, B, H)  # d_h (4 gates), d_x (4), d_b (4)
        y = x.new_empty(4, B, H)  # ȳ: the main gates before their layer norms
        act = x.new_empty(4, B, H)  # σ(i), σ(f), tanh(g), σ(o)
        d_h, d_x, d_b = d.view(3, 4, B, H).unbind(0)  # [4, B, H] each
        w_h_all_t, w_hh_t, w_z_t = w_h_all.t(), w_hh.t(), w_z.t()
        for t in range(T):
            # --- one matmul reads h_{t-1}: the main gates' W_h h and the hyper cell's h-columns
            g_t = g_buf[t].addmm_(h_all[t], w_h_all_t)  # [B, 4H + 4K]
            a_t = g_t[:, 4 * H :].addmm_(
                h_hat_all[t], w_hh_t
            )  # ā_t, the hyper pre-activation [B, 4K]
            # --- the hyper cell (layer-normalised LSTM)
            n = torch.native_layer_norm(a_t.view(B, 4, K), (K,), None, None, hyper_eps)[0]
            o = cell_update(
                torch.addcmul(hyper_ln_b, n, hyper_ln_w, out=act_hat),
                c_hat_all[t],
                c_hat_all[t + 1],
                1,
            )
            n = torch.native_layer_norm(
                c_hat_all[t + 1], (K,), hyper_ln_c_w, hyper_ln_c_b, hyper_eps
            )[0]
            torch.mul(o, n.tanh_(), out=h_hat_all[t + 1])  # ĥ_t = σ(ô) ⊙ tanh(LN(ĉ_t)): [B, K]
            # --- z (one matmul) and the twelve d's (one batched matmul over j = h, x, b of each
            # gate)
            z = torch.addmm(b_z, h_hat_all[t + 1], w_z_t, out=z_all[t])  # [B, 12Z]
            torch.bmm(z.view(B, 12, Z).transpose(0, 1), w_d, out=d)  # [12, B, H]
            d_b += b_d  # only d_b has a bias
            # --- the main gates, gate-major [4, B, H]: ȳ = d_h ⊙ (W_h h) + d_x ⊙ (W_x x) + d_b,
            # then LN
            wh = g_t[:, : 4 * H].view(B, 4, H).transpose(0, 1)
            wx = gx[t, :, : 4 * H].view(B, 4, H).transpose(0, 1)
            torch.addcmul(d_b, d_h, wh, out=y).addcmul_(d_x, wx)
            n = torch.native_layer_norm(y, (H,), None, None, eps)[0]
            o = cell_update(torch.addcmul(ln_b, n, ln_w, out=act), c_all[t], c_all[t + 1], 0)
            n = torch.native_layer_norm(c_all[t + 1], (H,), ln_c_w, ln_c_b, eps)[0]
            torch.mul(o, n.tanh_(), out=h_all[t + 1])  # h_t = σ(o) ⊙ tanh(LN_c(c_t)): [B, H]
        ctx.eps, ctx.hyper_eps = eps, hyper_eps
        ctx.save_for_backward(
            x,
            gx,
            g_buf,
            h_all,
            c_all,
            h_hat_all,
            c_hat_all,
            z_all,
            w_x_all,
            w_h_all,
            w_hh,
            w_z,
            w_d,
            b_d,
            ln_w,
            ln_b,
            ln_c_w,
            ln_c_b,
            hyper_ln_w,
            hyper_ln_b,
            hyper_ln_c_w,
            hyper_ln_c_b,
        )
        return h_all[1:], c_all[-1], h_hat_all[-1], c_hat_all[-1]

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_cT, d_h_hatT, d_c_hatT):
        r"""Backpropagation through time, carrying ``dh, dc, dĥ, dĉ`` in the loop.

        Per step, backwards (``LN'`` is :func:`layer_norm_dx`; the activations and their
        derivatives, which do not involve the carried gradients, are computed for a chunk of steps
        before the loop):

        .. math::
            dc_t &= dc_{t+1} \odot \sigma(f_{t+1}) + LN_c'\big(dh_t \odot \sigma(o_t)(1 - \tanh^2
            LN_c(c_t))\big)\\
            d\bar y_t &= LN'\big(\gamma \odot (dc_t\,\tanh(g)\,\sigma'(i),\; dc_t\,
            c_{t-1}\sigma'(f),\;
                dc_t\,\sigma(i)(1 - \tanh^2 g),\; dh_t \tanh(LN_c(c_t))\,\sigma'(o))\big)\\
            dd_t &= (d\bar y_t \odot W_h h_{t-1},\; d\bar y_t \odot W_x x_t,\; d\bar y_t), \qquad
                dz^j_t = dd^j_t\, W_d^{j\top}\\
            d\hat h_t &= d\bar a_{t+1} \hat W_h + dz_t W_z, \quad \text{then the hyper cell as the
            main one:}
                \ d\hat c_t,\ d\bar a_t\\
            dh_{t-1} &= d\mathrm{out}_{t-1} + [d\bar y_t \odot d_h \,|\, d\bar a_t]\, W_{h,all}

        After each chunk every weight gradient is one matmul (or batched matmul, or sum) over the
        chunk's rows, as in :meth:`LSTMLayerFunction.backward`.
        """
        (
            x,
            gx,
            g_buf,
            h_all,
            c_all,
            h_hat_all,
            c_hat_all,
            z_all,
            w_x_all,
            w_h_all,
            w_hh,
            w_z,
            w_d,
            b_d,
            ln_w,
            ln_b,
            ln_c_w,
            ln_c_b,
            hyper_ln_w,
            hyper_ln_b,
            hyper_ln_c_w,
            hyper_ln_c_b,
        ) = ctx.saved_tensors
        eps, hyper_eps = ctx.eps, ctx.hyper_eps
        T, B, I = x.shape
        H, K = h_all.shape[2], h_hat_all.shape[2]
        Z = w_z.shape[0] // 12
        d_w = {
            name: torch.zeros_like(w)
            for name, w in (
                ("x_all", w_x_all),
                ("h_all", w_h_all),
                ("hh", w_hh),
                ("z", w_z),
                ("d", w_d),
            )
        }
        d_b_x_all, d_b_z = x.new_zeros(4 * H + 4 * K), x.new_zeros(12 * Z)
        d_b_d, d_ln_w, d_ln_b = x.new_zeros(4, 1, H), x.new_zeros(4, 1, H), x.new_zeros(4, 1, H)
        d_ln_c_w, d_ln_c_b = x.new_zeros(H), x.new_zeros(H)
        d_hyper_ln_w, d_hyper_ln_b = x.new_zeros(4, K), x.new_zeros(4, K)
        d_hyper_ln_c_w, d_hyper_ln_c_b = x.new_zeros(K), x.new_zeros(K)
        dx = (
            torch.empty_like(x) if ctx.needs_input_grad[0] else None
        )  # dL/dx, when autograd asks for it
        w_d_t = w_d.transpose(1, 2)  # [12, H, Z]
        ws = Workspace(x, min(T, HyperLayerFunction.chunk))
        dh, dc = d_out[T - 1].clone(), d_cT.clone()  # dh_T (through out[-1]), dc_T
        dh_hat, dc_hat = d_h_hatT.clone(), d_c_hatT.clone()
        for start in reversed(range(0, T, HyperLayerFunction.chunk)):
            end = min(start + HyperLayerFunction.chunk, T)
            n = end - start
            rows = n * B
            # --- the chunk's forward tensors again, in a few large calls: d, ȳ, the gates
            d = torch.bmm(
                z_all[start:end].view(rows, 12, Z).transpose(0, 1), w_d, out=ws("d", 12, rows, H)
            )
            d[8:12] += b_d
            d_h, d_x, d_b = d.view(3, 4, n, B, H).unbind(0)  # [4, n, B, H] each
            wh = (
                g_buf[start:end, :, : 4 * H].view(n, B, 4, H).permute(2, 0, 1, 3)
            )  # W_h h_{t-1}: [4, n, B, H]
            wx = gx[start:end, :, : 4 * H].view(n, B, 4, H).permute(2, 0, 1, 3)  # W_x x_t
            y = ws("y", n, 4, B, H)  # ȳ, step-major so that each step's [4, B, H] is contiguous
            torch.addcmul(d_b, d_h, wh, out=y.transpose(0, 1)).addcmul_(d_x, wx)
            n_y, mean_y, rstd_y = torch.native_layer_norm(
                y, (H,), None, None, eps
            )  # [n, 4, B, H], [n, 4, B, 1]
            act = torch.addcmul(ln_b, n_y, ln_w)
            i, f, g, o = act.unbind(1)  # [n, B, H] each
            g.tanh_()
            act[:, 0:2].sigmoid_()
            o.sigmoid_()
            n_c, mean_c, rstd_c = torch.native_layer_norm(
                c_all[start + 1 : end + 1], (H,), None, None, eps
            )
            tanh_c = torch.addcmul(ln_c_b, n_c, ln_c_w).tanh_()  # tanh(LN_c(c_t)): [n, B, H]
            a = g_buf[start:end, :, 4 * H :].reshape(n, B, 4, K)  # ā_t
            n_a, mean_a, rstd_a = torch.native_layer_norm(a, (K,), None, None, hyper_eps)
            act_h = torch.addcmul(hyper_ln_b, n_a, hyper_ln_w)  # [n, B, 4, K]
            i_h, f_h, g_h, o_h = act_h.unbind(2)
            g_h.tanh_()
            act_h[:, :, 0:2].sigmoid_()
            o_h.sigmoid_()
            n_ch, mean_ch, rstd_ch = torch.native_layer_norm(
                c_hat_all[start + 1 : end + 1], (K,), None, None, hyper_eps
            )
            tanh_c_hat = torch.addcmul(hyper_ln_c_b, n_ch, hyper_ln_c_w).tanh_()
            # --- factors that do not involve the carried gradients
            k_c = tanh_c.square().neg_().add_(1).mul_(o)  # dLN_c(c_t) = dh ⊙ σ(o)(1 - tanh²)
            k_o = sigmoid_grad(o).mul_(tanh_c)  # dȳ_o (before γ) = dh ⊙ tanh(LN_c(c)) σ'(o)
            k_ifg = torch.stack(
                [
                    sigmoid_grad(i).mul_(g),
                    sigmoid_grad(f).mul_(c_all[start:end]),
                    g.square().neg_().add_(1).mul_(i),
                ],
                dim=1,
            )  # [n, 3, B, H]: ⊙ dc
            k_c_hat = tanh_c_hat.square().neg_().add_(1).mul_(o_h)
            k_o_hat = sigmoid_grad(o_h).mul_(tanh_c_hat)
            k_ifg_hat = torch.stack(
                [
                    sigmoid_grad(i_h).mul_(g_h),
                    sigmoid_grad(f_h).mul_(c_hat_all[start:end]),
                    g_h.square().neg_().add_(1).mul_(i_h),
                ],
                dim=2,
            )  # [n, B, 3, K]
            # --- per-step gradients that the weight gradients need, filled by the loop
            dy_all = ws("dy", n, 4, B, H)  # dL/d(LN_k output), main gates
            dd_all = ws("dd", 12, n, B, H)  # dL/dd: d_h (4 gates), d_x (4), d_b (4) = dȳ
            dz_all = ws("dz", n, B, 12 * Z)
            dm_all = ws("dm", n, B, 4 * H + 4 * K)  # dL/d[W_h h_{t-1} | ā_t]
            dn_c_all = ws("dn_c", n, B, H)  # dL/d(LN_c output)
            dy_hat_all = ws("dy_hat", n, B, 4, K)
            dn_c_hat_all = ws("dn_c_hat", n, B, K)
            for s in range(n - 1, -1, -1):  # step t = start + s, backwards
                t = start + s
                # --- main cell: h_t = σ(o) ⊙ tanh(LN_c(c_t)), c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g)
                dn_c = torch.mul(dh, k_c[s], out=dn_c_all[s])
                dc = dc + layer_norm_dx(dn_c, c_all[t + 1], mean_c[s], rstd_c[s], ln_c_w)
                dy = dy_all[s]
                torch.mul(k_ifg[s], dc, out=dy[:3])
                torch.mul(k_o[s], dh, out=dy[3])
                d_ybar = layer_norm_dx(dy * ln_w, y[s], mean_y[s], rstd_y[s])  # [4, B, H]
                dc = dc * f[s]  # dc_{t-1}
                # --- ȳ = d_h ⊙ (W_h h) + d_x ⊙ (W_x x) + d_b: the d's and W_h h
                dd = dd_all[:, s]  # [12, B, H]
                torch.mul(d_ybar, wh[:, s], out=dd[0:4])
                torch.mul(d_ybar, wx[:, s], out=dd[4:8])
                dd[8:12] = d_ybar
                dm = dm_all[s]
                torch.mul(d_ybar, d_h[:, s], out=dm[:, : 4 * H].view(B, 4, H).transpose(0, 1))
                # --- d = z W_d + b_d and z = ĥ_t W_z^T + b_z, back to ĥ_t
                dz_all[s].view(B, 12, Z).copy_(torch.bmm(dd, w_d_t).transpose(0, 1))
                dh_hat = torch.addmm(dh_hat, dz_all[s], w_z)  # dĥ_t [B, K]
                # --- the hyper cell, as the main one
                dn_c_hat = torch.mul(dh_hat, k_c_hat[s], out=dn_c_hat_all[s])
                dc_hat = dc_hat + layer_norm_dx(
                    dn_c_hat, c_hat_all[t + 1], mean_ch[s], rstd_ch[s], hyper_ln_c_w
                )
                dy_hat = dy_hat_all[s]
                torch.mul(k_ifg_hat[s], dc_hat.unsqueeze(1), out=dy_hat[:, :3])
                torch.mul(k_o_hat[s], dh_hat, out=dy_hat[:, 3])
                da = layer_norm_dx(dy_hat * hyper_ln_w, a[s], mean_a[s], rstd_a[s]).view(
                    B, 4 * K
                )  # dā_t
                dc_hat = dc_hat * f_h[s]  # dĉ_{t-1}
                dm[:, 4 * H :] = da
                # --- h_{t-1} and ĥ_{t-1}, read by this step's two recurrent matmuls
                dh_hat = da @ w_hh
                dh = torch.addmm(d_out[t - 1], dm, w_h_all) if t > 0 else dm @ w_h_all
            # --- weight gradients: one matmul (or batched matmul, or sum) over the chunk's n*B rows
            dm_rows = dm_all.view(rows, 4 * H + 4 * K)
            d_w["h_all"].addmm_(dm_rows.t(), h_all[start:end].reshape(rows, H))  # Σ dm^T h_{t-1}
            d_w["hh"].addmm_(dm_rows[:, 4 * H :].t(), h_hat_all[start:end].reshape(rows, K))
            d_gx = ws("d_gx", n, B, 4 * H + 4 * K)  # dL/dgx
            torch.mul(
                dd_all[8:12], d_x, out=d_gx[:, :, : 4 * H].view(n, B, 4, H).permute(2, 0, 1, 3)
            )  # dȳ ⊙ d_x
            d_gx[:, :, 4 * H :] = dm_all[:, :, 4 * H :]
            d_gx = d_gx.view(rows, 4 * H + 4 * K)
            if dx is not None:
                torch.mm(d_gx, w_x_all, out=dx[start:end].view(rows, I))
            d_w["x_all"].addmm_(d_gx.t(), x[start:end].reshape(rows, I))
            d_b_x_all += d_gx.sum(0)
            dz_rows = dz_all.view(rows, 12 * Z)
            d_w["z"].addmm_(dz_rows.t(), h_hat_all[start + 1 : end + 1].reshape(rows, K))
            d_b_z += dz_rows.sum(0)
            z_cols = z_all[start:end].view(rows, 12, Z).permute(1, 2, 0)  # [12, Z, rows]
            d_w["d"].baddbmm_(z_cols, dd_all.view(12, rows, H))
            d_b_d += dd_all[8:12].view(4, rows, H).sum(1, keepdim=True)
            # layer norms' gains and biases: Σ dL/d(output) ⊙ normalised input, Σ dL/d(output)
            d_ln_w += (dy_all * n_y).sum(0).sum(1, keepdim=True)  # summed over steps, then examples
            d_ln_b += dy_all.sum(0).sum(1, keepdim=True)
            d_ln_c_w += (dn_c_all * n_c).sum((0, 1))
            d_ln_c_b += dn_c_all.sum((0, 1))
            d_hyper_ln_w += (dy_hat_all * n_a).sum((0, 1))
            d_hyper_ln_b += dy_hat_all.sum((0, 1))
            d_hyper_ln_c_w += (dn_c_hat_all * n_ch).sum((0, 1))
            d_hyper_ln_c_b += dn_c_hat_all.sum((0, 1))
        return (
            dx,
            dh,
            dc,
            dh_hat,
            dc_hat,
            d_w["x_all"],
            d_b_x_all,
            d_w["h_all"],
            d_w["hh"],
            d_w["z"],
            d_b_z,
            d_w["d"],
            d_b_d,
            d_ln_w,
            d_ln_b,
            d_ln_c_w,
            d_ln_c_b,
            d_hyper_ln_w,
            d_hyper_ln_b,
            d_hyper_ln_c_w,
            d_hyper_ln_c_b,
            None,
            None,
        )


class FastHyperLSTM(HyperLSTM):
    """:class:`lstm_edu.HyperLSTM` with the same parameters and results, run layer by layer over
    the whole sequence with packed matrices (:class:`PackedHyperCell`) and a hand-written backward
    (:class:`HyperLayerFunction`).

    Shapes: as :class:`lstm_edu.HyperLSTM`: ``forward(x [T, B, I], state=None) -> (out [T, B, H],
    (h, c, h_hat, c_hat))``, states ``[n_layers, B, size]`` (unstacked when ``n_layers == 1``).
    """

    def run(self, x: torch.Tensor, states: List[State]) -> Tuple[torch.Tensor, List[State]]:
        """The layers, one :class:`HyperLayerFunction` each over the whole sequence (the input
        checks, the zero-step case and the state convention stay ``StackedRNN.forward``'s).

        Shapes: ``x [T, B, N_x]`` (``T >= 1``), ``states`` per layer ``(h, c, h_hat, c_hat)``
        -> ``out [T, B, N_h]`` and per layer the state after step ``T``."""
        out, final = x, []
        for cell, state in zip(self.cells, states):
            p = PackedHyperCell(cell)
            if (
                p.layer_norm
            ):  # the hand-written backward (HyperLSTM's cells always have layer norms)
                h, c, h_hat, c_hat = state
                out, c, h_hat, c_hat = HyperLayerFunction.apply(
                    out, h, c, h_hat, c_hat, *p.weights()
                )
                final.append((out[-1], c, h_hat, c_hat))
            else:  # a cell built with layer_norm=False: autograd through hyper_layer
                out, state = hyper_layer(p, out, *state)
                final.append(state)
        return out, final
