"""FastHyperLSTM: a hand-written backward, one autograd.Function per layer over the whole
sequence."""

from __future__ import annotations

from typing import List, Tuple

import torch
from torch.autograd.function import once_differentiable

from ..models.hyper_lstm import HyperLSTM
from ..models.stack import State
from . import hyper_steps
from .buffers import POOL, contiguous
from .compiled import loops_for
from .hyper_steps import HyperWeights
from .hyper_tape import PackedHyperCell, hyper_layer
from .matmul import Panels, linear_into
from .pointwise import Workspace


class HyperLayerFunction(torch.autograd.Function):
    r"""One HyperLSTM layer over a whole sequence, with a hand-written backward.

    ``forward(x [T, B, N_x], h0 [B, N_h], c0 [B, N_h], h_hat0 [B, N_ĥ], c_hat0 [B, N_ĥ],
    *weights) -> (out [T, B, N_h], c_T [B, N_h], h_hat_T [B, N_ĥ], c_hat_T [B, N_ĥ])``;
    ``out[-1]`` is ``h_T``. ``weights`` are :meth:`PackedHyperCell.weights` (their shapes are
    listed there) and the two layer norms' ``eps``.

    Everything that works on all steps at once is here; what goes step by step (the loops over
    time, with the equations) is in :mod:`hyper_steps` (Python) or its compiled twin
    (:mod:`compiled`).

    The forward pass keeps for the backward pass only the states, ``z_t``, and the matmul
    results :math:`W_h h_{t-1}`, :math:`\bar a_t`, :math:`W_x x_t` (buffers ``[T, ...]`` that it
    writes anyway); the backward pass recomputes ``d``, the gates and the layer norms for a
    chunk of steps at a time. Writing a large tensor that has just been allocated is slow on a
    CPU (the operating system maps its memory page by page on first touch), so recomputing is
    cheaper than storing.
    """

    # Steps per chunk of the backward pass (its temporaries are [chunk, B, ...], reused).
    chunk = 16

    @staticmethod
    def forward(ctx, x, h0, c0, h_hat0, c_hat0, *weights_and_eps):
        *weights, eps, hyper_eps = weights_and_eps
        w = HyperWeights(*(p.contiguous() for p in weights))
        T, B, N_x = x.shape
        N_h, N_hat = h0.shape[1], h_hat0.shape[1]
        # Input projections of all steps: gx = [W_x x_t (main gates) | the hyper cell's W x_t]
        # The forward pass's buffers come from POOL: memory of earlier calls, used again
        gx = POOL.empty(x, T, B, 4 * N_h + 4 * N_hat)
        linear_into(gx.view(T * B, -1), x.reshape(T * B, N_x), w.w_x_all)
        g_buf = POOL.empty(x, *gx.shape)  # g_buf[t] becomes [W_h h_{t-1} | ā_t]
        # The states of every step (kept for the backward pass) and z_t
        h_all, c_all = POOL.empty(x, T + 1, B, N_h), POOL.empty(x, T + 1, B, N_h)  # h_0 ... h_T
        h_hat_all, c_hat_all = POOL.empty(x, T + 1, B, N_hat), POOL.empty(x, T + 1, B, N_hat)
        h_all[0], c_all[0], h_hat_all[0], c_hat_all[0] = h0, c0, h_hat0, c_hat0
        z_all = POOL.empty(x, T, B, w.w_z.shape[0])  # z_h, z_x, z_b of the four gates
        d = POOL.empty(x, 12, B, N_h)  # d_h, d_x, d_b of the four gates: scratch of each step
        loops = loops_for(x)
        panels = Panels.args(loops, w.w_h_all, B, T)  # for the compiled loop's h W_h_all^T
        (loops or hyper_steps).hyper_forward(gx, g_buf, h_all, c_all, h_hat_all, c_hat_all,
                                             z_all, d, w, *panels, eps, hyper_eps)
        ctx.eps, ctx.hyper_eps = eps, hyper_eps
        ctx.save_for_backward(x, gx, g_buf, h_all, c_all, h_hat_all, c_hat_all, z_all, *w)
        return h_all[1:], c_all[-1], h_hat_all[-1], c_hat_all[-1]

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_cT, d_h_hatT, d_c_hatT):
        r"""Backpropagation through time, chunk by chunk from the last to the first, carrying
        ``dh, dc, dĥ, dĉ`` from one step to the one before: for each chunk, the steps back
        (:func:`hyper_steps.hyper_backward`, which recomputes the chunk's ``d`` from its ``z``),
        then :func:`add_weight_grads`, each weight gradient one matmul (or batched matmul, or
        sum) over the chunk's rows, as in :meth:`LSTMLayerFunction.backward`."""
        x, gx, g_buf, h_all, c_all, h_hat_all, c_hat_all, z_all, *weights = ctx.saved_tensors
        w = HyperWeights(*weights)
        T, B, _ = x.shape
        N_h, N_hat = h_all.shape[2], h_hat_all.shape[2]
        loops = loops_for(x)
        steps = loops or hyper_steps
        grads = HyperWeights(*(torch.zeros_like(p) for p in w))
        ln_grads = grads[8:]  # the layer norms': added by the steps back
        # dL/dx when autograd asks for it (not for the first layer's input in training)
        dx = POOL.empty(x, *x.shape) if ctx.needs_input_grad[0] else None
        ws = Workspace(x, min(T, HyperLayerFunction.chunk))  # the chunks' buffers, reused
        d_out = contiguous(d_out)  # dL/dout (h_T is out[-1]: its gradient is in there)
        dh, dc = torch.zeros_like(h_all[0]), d_cT.clone()  # what reaches the final states
        dh_hat, dc_hat = d_h_hatT.clone(), d_c_hatT.clone()
        w_h_all_t = w.w_h_all.t().contiguous()  # dm -> dm W_h_all, packed once
        panels_t = Panels.args(loops, w_h_all_t, B, T)
        for start in reversed(range(0, T, HyperLayerFunction.chunk)):
            end = min(start + HyperLayerFunction.chunk, T)
            n = end - start
            dd = ws("dd", 12, n, B, N_h)  # dL/dd
            dm = ws("dm", n, B, 4 * N_h + 4 * N_hat)  # dL/dg_buf
            dz, d_wx = ws("dz", n, B, w.w_z.shape[0]), ws("d_wx", n, B, 4 * N_h)  # dL/dz, dL/dW_x x
            steps.hyper_backward(start, end, z_all[start:end], gx, g_buf, c_all, c_hat_all,
                                 d_out, dh, dc, dh_hat, dc_hat, dd, dz, dm, d_wx, w, w_h_all_t,
                                 *panels_t, ln_grads, ctx.eps, ctx.hyper_eps)
            add_weight_grads(grads, w, dd, dz, dm, d_wx, x[start:end], h_all[start:end + 1],
                             h_hat_all[start:end + 1], z_all[start:end])
            if dx is not None:  # dL/dx_t = [dL/d(W_x x_t) | dā_t] W_x_all
                rows = dx[start:end].view(n * B, -1)
                torch.mm(d_wx.view(n * B, 4 * N_h), w.w_x_all[:4 * N_h], out=rows)
                rows.addmm_(dm.view(n * B, -1)[:, 4 * N_h:], w.w_x_all[4 * N_h:])
        return (dx, dh, dc, dh_hat, dc_hat, *grads, None, None)


def add_weight_grads(grads: HyperWeights, w: HyperWeights, dd, dz, dm, d_wx, x, h, h_hat,
                     z) -> None:
    """Adds a chunk's weight gradients to ``grads`` (the layer norms' excepted: the steps back
    add those), each one matmul (or batched matmul, or sum) over the chunk's ``n B`` rows.
    ``h``, ``h_hat``: the states of steps ``start-1 .. end-1`` (``[n+1, B, ...]``)."""
    n, B, N_x = x.shape
    N_h, N_hat = h.shape[2], h_hat.shape[2]
    rows = n * B
    x_rows = x.reshape(rows, N_x)
    dm_rows = dm.view(rows, 4 * N_h + 4 * N_hat)
    da_rows = dm_rows[:, 4 * N_h:]  # dL/dā: also the gradient of the hyper cell's input term
    grads.w_h_all.addmm_(dm_rows.t(), h[:-1].reshape(rows, N_h))  # Σ dm^T h_{t-1}
    grads.w_hh.addmm_(da_rows.t(), h_hat[:-1].reshape(rows, N_hat))
    d_wx_rows = d_wx.view(rows, 4 * N_h)
    grads.w_x_all[:4 * N_h].addmm_(d_wx_rows.t(), x_rows)  # Σ dL/d(W_x x)^T x
    grads.w_x_all[4 * N_h:].addmm_(da_rows.t(), x_rows)
    grads.b_x_all[4 * N_h:] += da_rows.sum(0)  # (the main part of b_x_all is a constant 0)
    dz_rows = dz.view(rows, -1)
    grads.w_z.addmm_(dz_rows.t(), h_hat[1:].reshape(rows, N_hat))
    grads.b_z.add_(dz_rows.sum(0))
    z_cols = z.reshape(rows, 12, -1).permute(1, 2, 0)  # [12, N_z, rows]
    grads.w_d.baddbmm_(z_cols, dd.view(12, rows, N_h))
    grads.b_d.add_(dd[8:12].reshape(4, rows, N_h).sum(1, keepdim=True))


class FastHyperLSTM(HyperLSTM):
    """:class:`lstm_edu.HyperLSTM` with the same parameters and results, run layer by layer over
    the whole sequence with packed matrices (:class:`PackedHyperCell`) and a hand-written backward
    (:class:`HyperLayerFunction`).

    Shapes: as :class:`lstm_edu.HyperLSTM`: ``forward(x [T, B, N_x], state=None) ->
    (out [T, B, N_h],
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
            if p.layer_norm:  # the hand-written backward (a HyperLSTM's cells have layer norms)
                h, c, h_hat, c_hat = state
                out, c, h_hat, c_hat = HyperLayerFunction.apply(out, h, c, h_hat, c_hat,
                                                                *p.weights())
                final.append((out[-1], c, h_hat, c_hat))
            else:  # a cell built with layer_norm=False: autograd through hyper_layer
                out, state = hyper_layer(p, out, *state)
                final.append(state)
        return out, final
