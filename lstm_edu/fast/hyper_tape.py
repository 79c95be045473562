"""The HyperLSTM's matrices packed together, and hyper_layer: a whole layer over the whole
sequence, differentiated by autograd (the middle step of chapter 9)."""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from ..models.hyper_lstm import HyperLSTMCell
from ..models.stack import State


class PackedHyperCell:
    r"""A :class:`lstm_edu.HyperLSTMCell`'s parameters packed for whole-sequence work.

    Packing (``torch.cat``/``torch.stack``) is differentiable, so gradients flow back to the cell's
    own parameters; it is redone on every forward call (it costs a copy of the weights, small next
    to a sequence).

    - ``w_x_all [4N_h + 4N_ĥ, N_x]``: the four ``W_x^k`` and the hyper cell's x-columns: every
      input projection of every step in one matmul.
    - ``b_x_all [4N_h + 4N_ĥ]``: zeros for the main cell (its bias is :math:`d_b`), the hyper
      cell's bias.
    - ``w_h_all [4N_h + 4N_ĥ, N_h]``: the four ``W_h^k`` and the hyper cell's
      ``h_{t-1}``-columns: the one matmul per step that reads ``h_{t-1}``.
    - ``w_hh [4N_ĥ, N_ĥ]``: the hyper cell's recurrent weight (reads :math:`\hat h_{t-1}`).
    - ``w_z [12N_z, N_ĥ]``, ``b_z [12N_z]``: ``z_h, z_x, z_b`` of all four gates in one matmul.
    - ``w_dh``, ``w_dx``, ``w_db [4, N_z, N_h]``, ``b_db [4, 1, N_h]``: the ``d`` maps of the
      four gates, each family as one batched matmul (``torch.bmm``); only ``d_b`` has a bias.
    - ``ln_w, ln_b [4, 1, N_h]``, ``ln_c_w, ln_c_b [N_h]``: the main cell's layer norms (or
      ``None``).
    - The cell's ``forget_bias`` is added to the f row of ``ln_b`` (of ``b_db`` without layer
      norm) and the hyper cell's to the f row of ``hyper_ln_b``: the loops add no constant of
      their own.
    - ``hyper_ln_w, hyper_ln_b [4, N_ĥ]``, ``hyper_ln_c_w, hyper_ln_c_b [N_ĥ]``: the hyper cell's.
    """

    def __init__(self, cell: HyperLSTMCell):
        N_h, N_hat = cell.hidden_size, cell.hyper_size
        hyper = cell.hyper
        ref = cell.w_h[0]
        self.N_h, self.N_hat, self.N_z = N_h, N_hat, cell.n_z
        self.w_x_all = torch.cat([*cell.w_x, hyper.lin_x.weight[:, N_h:]])
        self.b_x_all = torch.cat([ref.new_zeros(4 * N_h), hyper.lin_h.bias])
        self.w_h_all = torch.cat([*cell.w_h, hyper.lin_x.weight[:, :N_h]])
        self.w_hh = hyper.lin_h.weight
        self.w_z = torch.cat([cell.z_h.weight, cell.z_x.weight, cell.z_b.weight])
        self.b_z = torch.cat([cell.z_h.bias, cell.z_x.bias, ref.new_zeros(4 * cell.n_z)])
        self.w_dh, self.w_dx, self.w_db = (torch.stack([lin.weight.t() for lin in lins])
                                           for lins in (cell.d_h, cell.d_x, cell.d_b))
        # The forget bias (a constant added to f after its layer norm) is packed into the bias
        # that comes last before σ(f): the f gate's layer-norm bias, or b_0^f without layer norm.
        f_row = ref.new_tensor([0.0, 1.0, 0.0, 0.0]).unsqueeze(1)  # [4, 1]: gate f only
        self.b_db = torch.stack([lin.bias for lin in cell.d_b]).unsqueeze(1)
        self.hyper_ln_w = torch.stack([ln.weight for ln in hyper.layer_norm])
        self.hyper_ln_b = torch.stack([ln.bias for ln in hyper.layer_norm])
        if hyper.forget_bias:
            self.hyper_ln_b = self.hyper_ln_b + hyper.forget_bias * f_row
        self.hyper_ln_c = hyper.layer_norm_c
        self.hyper_eps = hyper.layer_norm[0].eps
        self.layer_norm = isinstance(cell.layer_norm_c, torch.nn.LayerNorm)
        if self.layer_norm:
            self.ln_w = torch.stack([ln.weight for ln in cell.layer_norm]).unsqueeze(1)
            self.ln_b = torch.stack([ln.bias for ln in cell.layer_norm]).unsqueeze(1)
            if cell.forget_bias:
                self.ln_b = self.ln_b + cell.forget_bias * f_row.unsqueeze(1)  # [4, 1, H]
            self.ln_c = cell.layer_norm_c
            self.eps = cell.layer_norm[0].eps
        elif cell.forget_bias:
            self.b_db = self.b_db + cell.forget_bias * f_row.unsqueeze(1)  # [4, 1, H]

    def weights(self) -> Tuple:
        r"""The arguments of :class:`HyperLayerFunction` after the states (layer-normalised
        cells only): ``w_x_all, b_x_all, w_h_all, w_hh, w_z, b_z``; ``w_d [12, N_z, N_h]``
        (``w_dh, w_dx, w_db`` stacked), ``b_d [4, 1, N_h]``; ``ln_w, ln_b [4, 1, N_h]``,
        ``ln_c_w, ln_c_b [N_h]``; ``hyper_ln_w, hyper_ln_b [4, N_ĥ]``,
        ``hyper_ln_c_w, hyper_ln_c_b [N_ĥ]``; ``eps, hyper_eps``."""
        return (self.w_x_all, self.b_x_all, self.w_h_all, self.w_hh, self.w_z, self.b_z,
                torch.cat([self.w_dh, self.w_dx, self.w_db]), self.b_db, self.ln_w, self.ln_b,
                self.ln_c.weight, self.ln_c.bias, self.hyper_ln_w, self.hyper_ln_b,
                self.hyper_ln_c.weight, self.hyper_ln_c.bias, self.eps, self.hyper_eps)


class WeightTape:
    r"""A weight used once per step, whose gradient is computed once per sequence.

    Autograd would compute :math:`dW \mathrel{+}= x_t^\top dy_t` at every step: ``T`` small,
    inefficient matmuls (``B`` rows each) and ``T`` additions. The tape instead records every
    step's input ``x_t`` (forward) and output gradient ``dy_t`` (backward) and computes
    :math:`dW = X^\top dY` with ``X [T*B, in]`` and ``dY [T*B, out]``: one large matmul.

    ``tape = WeightTape(w)`` with ``w [in, out]``; ``tape.matmul(x)`` is ``x @ w`` for
    ``x [B, in]``.
    The weight gradient arrives through ``_TapeStart``, an identity on ``w`` whose backward the
    autograd engine runs only after the backward of every ``tape.matmul`` that used it.
    The recordings (:class:`_Records`) hold plain tensors, detached from the graph: were they to
    hold the graph's tensors, the graph and its records would point at each other, a cycle that
    Python's garbage collector cannot see through, and every training step would leak its graph.
    """

    def __init__(self, w: torch.Tensor):
        self.records = _Records()
        self.w = _TapeStart.apply(w, self.records)

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        self.records.xs.append(x.detach())  # the values only: dW = X^T dY needs no graph
        self.records.dys.append(None)
        return _TapedMatmul.apply(x, self.w, self.records, len(self.records.xs) - 1)


class _Records:
    """What a :class:`WeightTape` recorded: every step's input ``xs`` and output gradient
    ``dys`` (``None`` until the backward pass reaches that step)."""

    def __init__(self):
        self.xs: List[torch.Tensor] = []
        self.dys: List[Optional[torch.Tensor]] = []


class _TapeStart(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, records):
        ctx.records = records
        return w.view_as(w)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        records = ctx.records
        d_w = torch.cat(records.xs).t() @ torch.cat(records.dys)  # [in, out]: X^T dY
        records.dys = [None] * len(records.xs)  # ready for another backward (retain_graph=True)
        return d_w, None


class _TapedMatmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, records, t):
        ctx.save_for_backward(w)
        ctx.records, ctx.t = records, t
        return x @ w

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        (w,) = ctx.saved_tensors
        ctx.records.dys[ctx.t] = dy  # recorded; dW is computed once, in _TapeStart.backward
        return dy @ w.t(), None, None, None


def hyper_layer(p: PackedHyperCell, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                h_hat: torch.Tensor, c_hat: torch.Tensor) -> Tuple[torch.Tensor, State]:
    r"""One HyperLSTM layer over a whole sequence: ``x [T, B, N_x]`` -> ``out [T, B, N_h]`` and the
    final ``(h, c, h_hat, c_hat)``.

    Per step, gate :math:`k`:
    :math:`LN_k(d_h^k \odot (W_h^k h_{t-1}) + d_x^k \odot (W_x^k x_t) + d_b^k)`, computed
    for the four gates at once in a gate-major layout ``[4, B, N_h]``.
    """
    T, B, N_x = x.shape
    N_h, N_hat = p.N_h, p.N_hat
    # All input projections of all steps in one matmul: [T, B, 4N_h + 4N_ĥ]
    gx = torch.addmm(p.b_x_all, x.reshape(T * B, N_x), p.w_x_all.t())
    gx = gx.view(T, B, 4 * N_h + 4 * N_hat)
    gx_main, gx_hyper = gx.split([4 * N_h, 4 * N_hat], dim=2)
    # Per-step views made once with unbind (indexing x[t] inside the loop would make autograd
    # build a zero tensor of the whole sequence's size for every step's gradient).
    wx = gx_main.reshape(T, B, 4, N_h).transpose(1, 2).contiguous().unbind(0)  # T x [4, B, N_h]
    gx_hyper = gx_hyper.unbind(0)  # the hyper cell's W x_t + b: T x [B, 4N_ĥ]
    w_h_all = WeightTape(p.w_h_all.t())  # [N_h, 4N_h + 4N_ĥ]
    w_hh_t, w_z_t = p.w_hh.t(), p.w_z.t()
    out = []
    for t in range(T):
        # --- one matmul reads h_{t-1}: the main gates' W_h h and the hyper cell's h-part
        wh, hw_hyper = w_h_all.matmul(h).split([4 * N_h, 4 * N_hat], dim=1)  # [B, 4N_h], [B, 4N_ĥ]
        wh = wh.view(B, 4, N_h).transpose(0, 1)  # W_h^k h_{t-1}: [4, B, N_h]
        # --- the hyper cell: a layer-normalised LSTM over x̂_t = [h_{t-1}; x_t]
        gates_hat = torch.addmm(gx_hyper[t] + hw_hyper, h_hat, w_hh_t).view(B, 4, N_hat)
        gates_hat = F.layer_norm(gates_hat, (N_hat,), eps=p.hyper_eps)
        gates_hat = torch.addcmul(p.hyper_ln_b, gates_hat, p.hyper_ln_w)
        i, f, g, o = gates_hat.unbind(1)  # [B, N_ĥ] each
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c_hat = torch.addcmul(f * c_hat, i, g)  # ĉ_t = σ(f) ⊙ ĉ_{t-1} + σ(i) ⊙ tanh(g)
        h_hat = o * torch.tanh(p.hyper_ln_c(c_hat))  # ĥ_t = σ(o) ⊙ tanh(LN(ĉ_t)): [B, N_ĥ]
        # --- z_h, z_x, z_b of all gates in one matmul, each family of d's in one batched matmul
        z = torch.addmm(p.b_z, h_hat, w_z_t)  # z_h, z_x, z_b: [B, 12N_z]
        z_h, z_x, z_b = z.view(B, 3, 4, p.N_z).transpose(0, 2).unbind(1)  # [4, B, N_z] each
        d_h = torch.bmm(z_h, p.w_dh)  # d_h^k = W_dh^k z_h^k: [4, B, N_h]
        d_x = torch.bmm(z_x, p.w_dx)
        d_b = torch.baddbmm(p.b_db, z_b, p.w_db)
        # --- the main cell's four gates at once: d_h ⊙ (W_h h) + d_x ⊙ (W_x x) + d_b
        gates = torch.addcmul(torch.addcmul(d_b, d_h, wh), d_x, wx[t])  # [4, B, N_h]
        if p.layer_norm:
            gates = torch.addcmul(p.ln_b, F.layer_norm(gates, (N_h,), eps=p.eps), p.ln_w)
        i, f, g, o = gates.unbind(0)  # [B, N_h] each
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = torch.addcmul(f * c, i, g)  # c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g)
        h = o * torch.tanh(p.ln_c(c) if p.layer_norm else c)  # h_t = σ(o) ⊙ tanh(LN(c_t))
        out.append(h)
    return torch.stack(out), (h, c, h_hat, c_hat)
