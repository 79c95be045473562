r"""Fast drop-in versions of :class:`lstm_edu.LSTM` and :class:`lstm_edu.HyperLSTM`.

``FastLSTM`` and ``FastHyperLSTM`` are subclasses with the same constructor, the same parameters
(so the same ``state_dict``), the same ``forward(x, state=None)``, the same state convention and
the same input checks as the references. They compute the same numbers (to rounding) and the same
gradients, faster. Chapter 9 of the book builds them up one step at a time; the ideas are:

1. **Work on a whole layer over the whole sequence.** The reference runs "for each step, for each
   layer, call the cell". Layer ``l`` at step ``t`` only needs layer ``l-1`` at step ``t``, so we can
   instead run layer 0 over all steps, then layer 1 over all steps, and so on. Everything that does
   not depend on the recurrence can then be computed for all steps at once.
2. **Input projections for all steps in one matmul.** ``W_x x_t`` does not depend on ``h_{t-1}``:
   ``X [T*B, I] @ W_x^T`` is one large, efficient matrix multiply instead of ``T`` small ones.
3. **All gates in one matmul.** ``W_h`` of the four gates stacked ``[4H, H]``: one ``h @ W_h^T`` per
   step (the references already do this for the LSTM; the HyperLSTM reference does four).
4. **Fused elementwise work.** Fewer, larger elementwise operations per step (each PyTorch call
   costs a few microseconds of overhead however small the tensor).
5. **A hand-written backward** (a ``torch.autograd.Function`` over the whole sequence:
   :class:`LSTMLayerFunction`, :class:`HyperLayerFunction`): the backward loop only carries
   ``dh`` and ``dc`` (and the hyper cell's ``dĥ``, ``dĉ``) through time; every weight gradient is
   then one large matmul over many steps, instead of ``T`` small ones that autograd would do.
   :func:`hyper_layer` is the HyperLSTM's earlier version, differentiated by autograd (with a
   :class:`WeightTape`); chapter 9 times both.

On a GPU the same code runs; ``FastLSTM.compile_pointwise`` (off by default, and only used on
CUDA) compiles the per-step elementwise function with ``torch.compile`` so it becomes one kernel.
It has not been measured in this edition of the book (no GPU was available).

Shapes use ``T`` = n_steps, ``B`` = batch_size, ``I`` = input_size, ``H`` = hidden_size,
``K`` = hyper_size, ``Z`` = n_z.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from .hyper_lstm import HyperLSTM, HyperLSTMCell
from .lstm import LSTM
from .stack import State

# ---------------------------------------------------------------------------------------------
# FastLSTM: one autograd.Function per layer, forward and backward over the whole sequence.
# ---------------------------------------------------------------------------------------------


def lstm_pointwise(act: torch.Tensor, c_prev: torch.Tensor, c_out: torch.Tensor, h_out: torch.Tensor) -> None:
    r"""The elementwise part of one LSTM step, in place.

    .. math::
        c_t = \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g), \qquad h_t = \sigma(o) \odot \tanh(c_t)

    ``act [B, 4H]`` holds the pre-activations ``i, f, 2g, o`` on entry (the ``g`` quarter doubled:
    see below) and :math:`\sigma(i), \sigma(f), \tanh(g), \sigma(o)` on return (kept for the
    backward pass);
    ``c_t`` is written into ``c_out`` and ``h_t`` into ``h_out`` (``[B, H]``, rows of the layer's
    ``[T, B, H]`` buffers, so nothing has to be stacked afterwards). Working in place, it cannot be
    differentiated by autograd: it runs inside :class:`LSTMLayerFunction`, whose backward is
    written by hand.

    ``tanh`` is computed as :math:`\tanh(x) = 2\sigma(2x) - 1`: on the CPU builds of PyTorch we
    measured, ``torch.tanh`` of a small tensor takes several times as long as ``torch.sigmoid``
    (chapter 9 measures it), and with the ``g`` pre-activation doubled one ``sigmoid`` call covers
    all four gates.
    """
    H = c_prev.shape[-1]
    act.sigmoid_()  # σ(i), σ(f), σ(2g), σ(o)
    act[:, 2 * H:3 * H].mul_(2).sub_(1)  # tanh(g) = 2σ(2g) - 1
    i, f, g, o = act.chunk(4, dim=1)  # [B, H] each
    torch.mul(f, c_prev, out=c_out).addcmul_(i, g)  # c_t = f ⊙ c_{t-1} + i ⊙ g
    tanh_(h_out.copy_(c_out)).mul_(o)  # h_t = o ⊙ tanh(c_t)


def tanh_(x: torch.Tensor) -> torch.Tensor:
    r"""``tanh`` in place, as :math:`2\sigma(2x) - 1` (faster than ``torch.tanh`` on the CPU; see
    :func:`lstm_pointwise`). Returns ``x``."""
    return x.mul_(2).sigmoid_().mul_(2).sub_(1)


class LSTMLayerFunction(torch.autograd.Function):
    r"""One LSTM layer over a whole sequence, with a hand-written backward.

    ``forward(x [T, B, I], w_x [4H, I], w_h [4H, H], b [4H], h0 [B, H], c0 [B, H])
    -> (out [T, B, H], c_T [B, H])``; ``out[-1]`` is ``h_T``.
    """

    # Steps per chunk of the backward pass (its temporaries are [chunk, B, ...]).
    chunk = 32
    # The elementwise function the forward loop calls; on CUDA tensors a compiled one when
    # ``FastLSTM.compile_pointwise()`` has set ``pointwise_cuda``.
    pointwise = staticmethod(lstm_pointwise)
    pointwise_cuda = None

    @staticmethod
    def forward(ctx, x, w_x, w_h, b, h0, c0):
        T, B, I = x.shape
        H = w_h.shape[1]
        # (2) input projections of all steps at once, bias included: [T, B, 4H]. This buffer
        # becomes the gate activations: step t adds W_h h_{t-1} to row t and activates it in place.
        # The g rows of W_x, W_h and b are doubled (exactly: a power of 2) for lstm_pointwise's
        # tanh(g) = 2σ(2g) - 1; the backward pass uses the original weights.
        scale = w_h.new_ones(4 * H, 1)
        scale[2 * H:3 * H] = 2
        act = torch.addmm(b * scale[:, 0], x.reshape(T * B, I), (w_x * scale).t()).view(T, B, 4 * H)
        out = x.new_empty(T, B, H)  # h_1 ... h_T
        c_all = x.new_empty(T + 1, B, H)  # c_0 ... c_T
        c_all[0] = c0
        w_h_t = (w_h * scale).t()  # [H, 4H]
        pointwise = LSTMLayerFunction.pointwise
        if x.is_cuda and LSTMLayerFunction.pointwise_cuda is not None:
            pointwise = LSTMLayerFunction.pointwise_cuda
        h = h0
        for t in range(T):
            # (3) all four gates in one matmul: act[t] = W_x x_t + b + W_h h_{t-1}, [B, 4H]
            act[t].addmm_(h, w_h_t)
            # (4) the elementwise update, fused into a few in-place calls
            pointwise(act[t], c_all[t], c_all[t + 1], out[t])
            h = out[t]
        # Kept for the backward pass: act (4 floats per step, example and hidden unit) and c (1),
        # plus x and out, the neighbouring layers' tensors anyway; tanh(c_t) is recomputed.
        ctx.save_for_backward(x, w_x, w_h, h0, out, c_all, act)
        return out, c_all[-1]

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_cT):
        r"""Backpropagation through time, carrying only ``dh`` and ``dc`` in the loop.

        With :math:`a = (\sigma(i), \sigma(f), \tanh(g), \sigma(o))` stored from the forward pass:

        .. math::
            dc_t &= dc_{t+1} \odot \sigma(f_{t+1}) + dh_t \odot \sigma(o_t)(1 - \tanh^2 c_t)\\
            d\,\mathrm{gates}_t &= \big(dc_t\, \tanh(g_t)\,\sigma'(i_t),\; dc_t\, c_{t-1}\,\sigma'(f_t),\;
                dc_t\, \sigma(i_t)\,(1-\tanh^2 g_t),\; dh_t \tanh(c_t)\,\sigma'(o_t)\big)\\
            dh_{t-1} &= d\mathrm{out}_{t-1} + d\,\mathrm{gates}_t\, W_h

        Every factor that does not involve ``dh`` or ``dc`` is computed for a whole chunk of steps
        at once before the loop over those steps, and after it each weight gradient is one matmul
        over all the chunk's rows. Working chunk by chunk (``LSTMLayerFunction.chunk`` steps, from
        the last chunk to the first) bounds the memory of these temporaries.
        """
        x, w_x, w_h, h0, out, c_all, act = ctx.saved_tensors
        T, B, I = x.shape
        H = w_h.shape[1]
        # dL/dx only when autograd asks for it (not for the first layer's input in training)
        d_x = torch.empty_like(x) if ctx.needs_input_grad[0] else None  # [T, B, I]
        ws = Workspace(x, min(T, LSTMLayerFunction.chunk))  # the chunks' temporaries, reused
        d_w_x, d_w_h = torch.zeros_like(w_x), torch.zeros_like(w_h)  # [4H, I], [4H, H]
        d_b = w_h.new_zeros(4 * H)
        dh = d_out[T - 1].clone()  # dh_T: the loss's gradient through out[-1] (= h_T)
        dc = d_cT.clone()
        for start in reversed(range(0, T, LSTMLayerFunction.chunk)):
            end = min(start + LSTMLayerFunction.chunk, T)
            n = end - start
            i, f, g, o = act[start:end].chunk(4, dim=2)  # [n, B, H] each
            # Factors for all the chunk's steps at once, computed in place to save memory;
            # σ'(a) = σ(a)(1 - σ(a)) is computed as σ - σ·σ (addcmul with value=-1).
            tanh_c = tanh_(ws("tanh_c", n, B, H).copy_(c_all[start + 1:end + 1]))  # tanh(c_t): [n, B, H]
            k_o = torch.addcmul(o, o, o, value=-1, out=ws("k_o", n, B, H)).mul_(tanh_c)  # dgate_o = dh ⊙ tanh(c) σ'(o)
            dc_from_dh = tanh_c.mul_(tanh_c).neg_().add_(1).mul_(o)  # ∂h_t/∂c_t = σ(o)(1 - tanh² c_t)
            k_ifg = ws("k_ifg", n, B, 3, H)  # dgate_{i,f,g} = dc ⊙ k_{i,f,g}
            torch.addcmul(i, i, i, value=-1, out=k_ifg[:, :, 0]).mul_(g)  # tanh(g) σ'(i)
            torch.addcmul(f, f, f, value=-1, out=k_ifg[:, :, 1]).mul_(c_all[start:end])  # c_{t-1} σ'(f)
            torch.mul(g, g, out=k_ifg[:, :, 2]).neg_().add_(1).mul_(i)  # σ(i)(1 - tanh² g)

            d_gates = ws("d_gates", n, B, 4 * H)  # [n, B, 4H]
            for s in range(n - 1, -1, -1):  # step t = start + s, backwards
                t = start + s
                dc = torch.addcmul(dc, dh, dc_from_dh[s])  # dc_t
                dg = d_gates[s]  # [B, 4H], a view we fill in place
                torch.mul(k_ifg[s], dc.unsqueeze(1), out=dg[:, :3 * H].view(B, 3, H))
                torch.mul(k_o[s], dh, out=dg[:, 3 * H:])
                dc = dc * f[s]  # dc_{t-1} through c_t = f ⊙ c_{t-1} + ...
                # dh_{t-1} = dout_{t-1} + dgates_t W_h  (for t = 0 this is dh_0, no dout term)
                dh = torch.addmm(d_out[t - 1], dg, w_h) if t > 0 else dg @ w_h
            # (5) weight gradients: one matmul each over the chunk's n*B rows
            dG = d_gates.view(n * B, 4 * H)
            d_w_x.addmm_(dG.t(), x[start:end].reshape(n * B, I))  # dW_x += Σ_t dgates_t^T x_t
            d_b += dG.sum(0)
            if d_x is not None:
                torch.mm(dG, w_x, out=d_x[start:end].view(n * B, I))  # dL/dx_t = dgates_t W_x
            # dW_h += Σ_t dgates_t^T h_{t-1}, where h_{t-1} is h_0 for t = 0 and out[t-1] after
            first = 1 if start == 0 else 0
            if first:
                d_w_h.addmm_(dG[:B].t(), h0)
            d_w_h.addmm_(dG[first * B:].t(), out[start + first - 1:end - 1].reshape(-1, H))
        return d_x, d_w_x, d_w_h, d_b, dh, dc


class FastLSTM(LSTM):
    """:class:`lstm_edu.LSTM` with the same parameters and results, run layer by layer over the
    whole sequence with :class:`LSTMLayerFunction` (hand-written backward).

    Shapes: as :class:`lstm_edu.LSTM`: ``forward(x [T, B, I], state=None) -> (out [T, B, H], (h, c))``,
    states ``[n_layers, B, H]`` (or ``[B, H]`` when ``n_layers == 1``).
    """

    def forward(self, x: torch.Tensor, state: Optional[Sequence[torch.Tensor]] = None) -> Tuple[torch.Tensor, State]:
        x = self.check_input(x)
        states, unstacked = self.initial_state(x, state)  # per layer (h0, c0), each [B, H]
        inp = x
        if x.shape[0] > 0:
            for layer, cell in enumerate(self.cells):
                h0, c0 = states[layer]
                inp, c_T = LSTMLayerFunction.apply(
                    inp, cell.lin_x.weight, cell.lin_h.weight, cell.lin_h.bias, h0, c0)  # [T, B, H]
                states[layer] = (inp[-1], c_T)
        _, final = self.finish(x, [], states, unstacked)  # the reference's state convention
        out = inp if x.shape[0] > 0 else x.new_zeros(0, x.shape[1], self.hidden_size)
        return out, final

    @staticmethod
    def compile_pointwise(enable: bool = True) -> bool:
        """GPU only, and untested in this edition (no GPU was available): compile the per-step
        elementwise function with ``torch.compile`` so that it runs as one fused kernel on CUDA
        tensors (CPU tensors keep the eager function). Applies to every ``FastLSTM``. Returns
        whether it is enabled; without CUDA and Triton it does nothing and returns ``False``."""
        LSTMLayerFunction.pointwise_cuda = None
        if not (enable and torch.cuda.is_available()):
            return False
        try:
            import triton  # noqa: F401
        except ImportError:
            return False
        LSTMLayerFunction.pointwise_cuda = torch.compile(lstm_pointwise, dynamic=False)
        return True


# ---------------------------------------------------------------------------------------------
# The HyperLSTM's matrices packed together; hyper_layer, differentiated by autograd.
# ---------------------------------------------------------------------------------------------


class PackedHyperCell:
    r"""A :class:`lstm_edu.HyperLSTMCell`'s parameters packed for whole-sequence work.

    Packing (``torch.cat``/``torch.stack``) is differentiable, so gradients flow back to the cell's
    own parameters; it is redone on every forward call (it costs a copy of the weights, small next
    to a sequence).

    - ``w_x_all [4H + 4K, I]``: the four ``W_x^k`` and the hyper cell's x-columns: every
      input projection of every step in one matmul.
    - ``b_x_all [4H + 4K]``: zeros for the main cell (its bias is :math:`d_b`), the hyper cell's bias.
    - ``w_h_all [4H + 4K, H]``: the four ``W_h^k`` and the hyper cell's ``h_{t-1}``-columns: the
      one matmul per step that reads ``h_{t-1}``.
    - ``w_hh [4K, K]``: the hyper cell's recurrent weight (reads :math:`\hat h_{t-1}`).
    - ``w_z [12Z, K]``, ``b_z [12Z]``: ``z_h, z_x, z_b`` of all four gates in one matmul.
    - ``w_dh``, ``w_dx``, ``w_db [4, Z, H]``, ``b_db [4, 1, H]``: the ``d`` maps of the four gates,
      each family as one batched matmul (``torch.bmm``); only ``d_b`` has a bias.
    - ``ln_w, ln_b [4, 1, H]``, ``ln_c_w, ln_c_b [H]``: the main cell's layer norms (or ``None``).
    - ``hyper_ln_w, hyper_ln_b [4, K]``, ``hyper_ln_c_w, hyper_ln_c_b [K]``: the hyper cell's.
    """

    def __init__(self, cell: HyperLSTMCell):
        H, K = cell.hidden_size, cell.hyper_size
        hyper = cell.hyper
        ref = cell.w_h[0]
        self.H, self.K, self.Z = H, K, cell.n_z
        self.w_x_all = torch.cat([*cell.w_x, hyper.lin_x.weight[:, H:]])
        self.b_x_all = torch.cat([ref.new_zeros(4 * H), hyper.lin_h.bias])
        self.w_h_all = torch.cat([*cell.w_h, hyper.lin_x.weight[:, :H]])
        self.w_hh = hyper.lin_h.weight
        self.w_z = torch.cat([cell.z_h.weight, cell.z_x.weight, cell.z_b.weight])
        self.b_z = torch.cat([cell.z_h.bias, cell.z_x.bias, ref.new_zeros(4 * cell.n_z)])
        self.w_dh, self.w_dx, self.w_db = (torch.stack([lin.weight.t() for lin in lins])
                                           for lins in (cell.d_h, cell.d_x, cell.d_b))
        self.b_db = torch.stack([lin.bias for lin in cell.d_b]).unsqueeze(1)
        self.hyper_ln_w = torch.stack([ln.weight for ln in hyper.layer_norm])
        self.hyper_ln_b = torch.stack([ln.bias for ln in hyper.layer_norm])
        self.hyper_ln_c = hyper.layer_norm_c
        self.hyper_eps = hyper.layer_norm[0].eps
        self.layer_norm = isinstance(cell.layer_norm_c, torch.nn.LayerNorm)
        if self.layer_norm:
            self.ln_w = torch.stack([ln.weight for ln in cell.layer_norm]).unsqueeze(1)
            self.ln_b = torch.stack([ln.bias for ln in cell.layer_norm]).unsqueeze(1)
            self.ln_c = cell.layer_norm_c
            self.eps = cell.layer_norm[0].eps

    def weights(self) -> Tuple:
        r"""The arguments of :class:`HyperLayerFunction` after the states (layer-normalised cells only):
        ``w_x_all, b_x_all, w_h_all, w_hh, w_z, b_z``; ``w_d [12, Z, H]`` (``w_dh, w_dx, w_db``
        stacked), ``b_d [4, 1, H]``; ``ln_w, ln_b [4, 1, H]``, ``ln_c_w, ln_c_b [H]``;
        ``hyper_ln_w, hyper_ln_b [4, K]``, ``hyper_ln_c_w, hyper_ln_c_b [K]``; ``eps, hyper_eps``."""
        return (self.w_x_all, self.b_x_all, self.w_h_all, self.w_hh, self.w_z, self.b_z,
                torch.cat([self.w_dh, self.w_dx, self.w_db]), self.b_db, self.ln_w, self.ln_b,
                self.ln_c.weight, self.ln_c.bias, self.hyper_ln_w, self.hyper_ln_b,
                self.hyper_ln_c.weight, self.hyper_ln_c.bias, self.eps, self.hyper_eps)


class WeightTape:
    r"""A weight used once per step, whose gradient is computed once per sequence.

    Autograd would compute :math:`dW \mathrel{+}= x_t^	op dy_t` at every step: ``T`` small,
    inefficient matmuls (``B`` rows each) and ``T`` additions. The tape instead records every
    step's input ``x_t`` (forward) and output gradient ``dy_t`` (backward) and computes
    :math:`dW = X^	op dY` with ``X [T*B, in]`` and ``dY [T*B, out]``: one large matmul.

    ``tape = WeightTape(w)`` with ``w [in, out]``; ``tape.matmul(x)`` is ``x @ w`` for ``x [B, in]``.
    The weight gradient arrives through ``_TapeStart``, an identity on ``w`` whose backward the
    autograd engine runs only after the backward of every ``tape.matmul`` that used it.
    """

    def __init__(self, w: torch.Tensor):
        self.xs: List[torch.Tensor] = []
        self.dys: List[Optional[torch.Tensor]] = []
        self.w = _TapeStart.apply(w, self)

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        self.xs.append(x)
        self.dys.append(None)
        return _TapedMatmul.apply(x, self.w, self, len(self.xs) - 1)


class _TapeStart(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, tape):
        ctx.tape = tape
        return w.view_as(w)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        tape = ctx.tape
        d_w = torch.cat(tape.xs).t() @ torch.cat(tape.dys)  # [in, out]: X^T dY
        tape.dys = [None] * len(tape.xs)  # ready for another backward (retain_graph=True)
        return d_w, None


class _TapedMatmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, tape, t):
        ctx.save_for_backward(w)
        ctx.tape, ctx.t = tape, t
        return x @ w

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        (w,) = ctx.saved_tensors
        ctx.tape.dys[ctx.t] = dy  # recorded; dW is computed once, in _TapeStart.backward
        return dy @ w.t(), None, None, None


def hyper_layer(p: PackedHyperCell, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                h_hat: torch.Tensor, c_hat: torch.Tensor) -> Tuple[torch.Tensor, State]:
    r"""One HyperLSTM layer over a whole sequence: ``x [T, B, I]`` -> ``out [T, B, H]`` and the
    final ``(h, c, h_hat, c_hat)``.

    Per step, gate :math:`k`: :math:`LN_k(d_h^k \odot (W_h^k h_{t-1}) + d_x^k \odot (W_x^k x_t) + d_b^k)`,
    computed for the four gates at once in a gate-major layout ``[4, B, H]``.
    """
    T, B, I = x.shape
    H, K = p.H, p.K
    # All input projections of all steps in one matmul: [T, B, 4H + 4K]
    gx = torch.addmm(p.b_x_all, x.reshape(T * B, I), p.w_x_all.t()).view(T, B, 4 * H + 4 * K)
    gx_main, gx_hyper = gx.split([4 * H, 4 * K], dim=2)
    # Per-step views made once with unbind (indexing x[t] inside the loop would make autograd
    # build a zero tensor of the whole sequence's size for every step's gradient).
    wx = gx_main.reshape(T, B, 4, H).transpose(1, 2).contiguous().unbind(0)  # W_x^k x_t: T x [4, B, H]
    gx_hyper = gx_hyper.unbind(0)  # the hyper cell's W x_t + b: T x [B, 4K]
    w_h_all = WeightTape(p.w_h_all.t())  # [H, 4H + 4K]
    w_hh_t, w_z_t = p.w_hh.t(), p.w_z.t()
    out = []
    for t in range(T):
        # --- one matmul reads h_{t-1}: the main gates' W_h h and the hyper cell's h-part
        wh, hw_hyper = w_h_all.matmul(h).split([4 * H, 4 * K], dim=1)  # [B, 4H], [B, 4K]
        wh = wh.view(B, 4, H).transpose(0, 1)  # W_h^k h_{t-1}: [4, B, H]
        # --- the hyper cell: a layer-normalised LSTM over x̂_t = [h_{t-1}; x_t]
        gates_hat = torch.addmm(gx_hyper[t] + hw_hyper, h_hat, w_hh_t).view(B, 4, K)
        gates_hat = torch.addcmul(p.hyper_ln_b, F.layer_norm(gates_hat, (K,), eps=p.hyper_eps), p.hyper_ln_w)
        i, f, g, o = gates_hat.unbind(1)  # [B, K] each
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c_hat = torch.addcmul(f * c_hat, i, g)  # ĉ_t = σ(f) ⊙ ĉ_{t-1} + σ(i) ⊙ tanh(g)
        h_hat = o * torch.tanh(p.hyper_ln_c(c_hat))  # ĥ_t = σ(o) ⊙ tanh(LN(ĉ_t)): [B, K]
        # --- z_h, z_x, z_b of all gates in one matmul, then each family of d's in one batched matmul
        z = torch.addmm(p.b_z, h_hat, w_z_t)  # z_h, z_x, z_b: [B, 12Z]
        z_h, z_x, z_b = z.view(B, 3, 4, p.Z).transpose(0, 2).unbind(1)  # [4, B, Z] each
        d_h = torch.bmm(z_h, p.w_dh)  # d_h^k = W_dh^k z_h^k: [4, B, H]
        d_x = torch.bmm(z_x, p.w_dx)
        d_b = torch.baddbmm(p.b_db, z_b, p.w_db)
        # --- the main cell's four gates at once: d_h ⊙ (W_h h) + d_x ⊙ (W_x x) + d_b
        gates = torch.addcmul(torch.addcmul(d_b, d_h, wh), d_x, wx[t])  # [4, B, H]
        if p.layer_norm:
            gates = torch.addcmul(p.ln_b, F.layer_norm(gates, (H,), eps=p.eps), p.ln_w)
        i, f, g, o = gates.unbind(0)  # [B, H] each
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = torch.addcmul(f * c, i, g)  # c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g)
        h = o * torch.tanh(p.ln_c(c) if p.layer_norm else c)  # h_t = σ(o) ⊙ tanh(LN(c_t))
        out.append(h)
    return torch.stack(out), (h, c, h_hat, c_hat)


# ---------------------------------------------------------------------------------------------
# FastHyperLSTM, hand-written backward: one autograd.Function per layer over the whole sequence.
# ---------------------------------------------------------------------------------------------

# torch.native_layer_norm(x, shape, w, b, eps) -> (y, mean, rstd) is the one-call kernel behind
# F.layer_norm, and this is its backward: (dy, x, shape, mean, rstd, w, b, mask) -> (dx, dw, db),
# computing only what ``mask`` asks for. One call per layer norm and step, and the same arithmetic
# as autograd's, so the hand-written backward rounds like the reference.
_layer_norm_backward = torch.ops.aten.native_layer_norm_backward
_DX_ONLY = [True, False, False]


def layer_norm_dx(dy: torch.Tensor, x: torch.Tensor, mean: torch.Tensor, rstd: torch.Tensor,
                  weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    r"""Gradient of ``LN(x) = weight ⊙ (x - mean) · rstd + bias`` (over the last axis) with respect to ``x``:

    .. math::
        dx = \mathrm{rstd}\,\big(\hat{dy} - \mathrm{mean}(\hat{dy}) - \hat{x}\,\mathrm{mean}(\hat{dy} \odot \hat{x})\big),
        \qquad \hat{dy} = dy \odot \mathrm{weight},\ \hat{x} = (x - \mathrm{mean})\,\mathrm{rstd}

    ``mean`` and ``rstd`` (``[..., 1]``) as ``torch.native_layer_norm`` returned them in the forward pass.
    """
    return _layer_norm_backward(dy, x, x.shape[-1:], mean, rstd, weight, None, _DX_ONLY)[0]


def cell_update(act: torch.Tensor, c_prev: torch.Tensor, c_out: torch.Tensor, dim: int) -> torch.Tensor:
    r"""The LSTM update of one step, in place: ``act`` holds the (layer-normalised) pre-activations
    :math:`i, f, g, o` along axis ``dim`` on entry and :math:`\sigma(i), \sigma(f), \tanh(g), \sigma(o)`
    on return; :math:`c_t = \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g)` is written into ``c_out``.
    Returns the view :math:`\sigma(o)`.

    Here ``torch.tanh`` is used, not :func:`tanh_`: after a layer norm the pre-activations are near 0,
    where :math:`2\sigma(2x) - 1` loses relative precision, and over three HyperLSTM layers the
    float32 gradients then drift past the tests' 1e-5 from the reference's."""
    act.narrow(dim, 2, 1).tanh_()  # tanh(g)
    act.narrow(dim, 0, 2).sigmoid_()  # σ(i), σ(f)
    act.narrow(dim, 3, 1).sigmoid_()  # σ(o)
    i, f, g, o = act.unbind(dim)
    torch.mul(f, c_prev, out=c_out).addcmul_(i, g)
    return o


def sigmoid_grad(s: torch.Tensor) -> torch.Tensor:
    r""":math:`\sigma'(a) = \sigma(a)(1 - \sigma(a))` from :math:`s = \sigma(a)` (as ``s - s·s``)."""
    return torch.addcmul(s, s, s, value=-1)


class HyperLayerFunction(torch.autograd.Function):
    r"""One HyperLSTM layer over a whole sequence, with a hand-written backward.

    ``forward(x [T, B, I], h0 [B, H], c0 [B, H], h_hat0 [B, K], c_hat0 [B, K], *weights)
    -> (out [T, B, H], c_T [B, H], h_hat_T [B, K], c_hat_T [B, K])``; ``out[-1]`` is ``h_T``.
    ``weights`` are :meth:`PackedHyperCell.weights` (their shapes are listed there) and the two
    layer norms' ``eps``.

    The forward pass is :func:`hyper_layer` without autograd. Per step, in the order computed
    (:math:`\hat{\ }` marks the hyper cell, :math:`\bar{\ }` a pre-activation before its layer norm):

    .. math::
        [W_h h_{t-1} \,|\, \bar a_t] &= h_{t-1} W_{h,all}^\top + [0 \,|\, W_{x}^{hyper} x_t + b],
            \qquad \bar a_t \mathrel{+}= \hat h_{t-1} \hat W_h^\top \\
        \hat c_t &= \sigma(\hat f) \odot \hat c_{t-1} + \sigma(\hat i) \odot \tanh(\hat g), \qquad
            \hat h_t = \sigma(\hat o) \odot \tanh(LN(\hat c_t)) \quad (\hat i, \hat f, \hat g, \hat o = LN_k(\bar a_t)) \\
        z_t &= \hat h_t W_z^\top + b_z, \qquad d^j_t = z^j_t W_d^j + b_d^j \quad (j = h, x, b \text{ for each gate}) \\
        \bar y^k_t &= d_h^k \odot (W_h^k h_{t-1}) + d_x^k \odot (W_x^k x_t) + d_b^k, \qquad
            i, f, g, o = LN_k(\bar y_t) \\
        c_t &= \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g), \qquad h_t = \sigma(o) \odot \tanh(LN_c(c_t))

    It keeps for the backward pass only the states, ``z_t``, and the matmul results
    :math:`W_h h_{t-1}`, :math:`\bar a_t`, :math:`W_x x_t` (buffers ``[T, ...]`` that it writes anyway);
    the backward pass recomputes ``d``, :math:`\bar y`, the gate activations and the layer norms
    for a chunk of steps at a time, in a few large calls. Writing a large tensor that has just been
    allocated is slow on a CPU (the operating system maps its memory page by page on first touch),
    so recomputing is cheaper than storing: the per-step temporaries of both passes are small
    buffers, reused from one step (or chunk) to the next.
    """

    # Steps per chunk of the backward pass (its temporaries are [chunk, B, ...], reused).
    chunk = 16

    @staticmethod
    def forward(ctx, x, h0, c0, h_hat0, c_hat0, w_x_all, b_x_all, w_h_all, w_hh, w_z, b_z, w_d, b_d,
                ln_w, ln_b, ln_c_w, ln_c_b, hyper_ln_w, hyper_ln_b, hyper_ln_c_w, hyper_ln_c_b, eps, hyper_eps):
        T, B, I = x.shape
        H, K = h0.shape[1], h_hat0.shape[1]
        Z = w_z.shape[0] // 12
        # Input projections of all steps: gx = [W_x x_t (main gates) | the hyper cell's W x_t + b]
        gx = torch.addmm(b_x_all, x.reshape(T * B, I), w_x_all.t()).view(T, B, 4 * H + 4 * K)
        # g_buf[t] becomes [W_h h_{t-1} | ā_t]: the hyper part starts as its input term, the main part at 0
        g_buf = gx.clone()
        g_buf[:, :, :4 * H] = 0
        # The states of every step (kept for the backward pass) and z_t
        h_all, c_all = x.new_empty(T + 1, B, H), x.new_empty(T + 1, B, H)  # h_0 ... h_T, c_0 ... c_T
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
            a_t = g_t[:, 4 * H:].addmm_(h_hat_all[t], w_hh_t)  # ā_t, the hyper pre-activation [B, 4K]
            # --- the hyper cell (layer-normalised LSTM)
            n = torch.native_layer_norm(a_t.view(B, 4, K), (K,), None, None, hyper_eps)[0]
            o = cell_update(torch.addcmul(hyper_ln_b, n, hyper_ln_w, out=act_hat), c_hat_all[t], c_hat_all[t + 1], 1)
            n = torch.native_layer_norm(c_hat_all[t + 1], (K,), hyper_ln_c_w, hyper_ln_c_b, hyper_eps)[0]
            torch.mul(o, n.tanh_(), out=h_hat_all[t + 1])  # ĥ_t = σ(ô) ⊙ tanh(LN(ĉ_t)): [B, K]
            # --- z (one matmul) and the twelve d's (one batched matmul over j = h, x, b of each gate)
            z = torch.addmm(b_z, h_hat_all[t + 1], w_z_t, out=z_all[t])  # [B, 12Z]
            torch.bmm(z.view(B, 12, Z).transpose(0, 1), w_d, out=d)  # [12, B, H]
            d_b += b_d  # only d_b has a bias
            # --- the main gates, gate-major [4, B, H]: ȳ = d_h ⊙ (W_h h) + d_x ⊙ (W_x x) + d_b, then LN
            wh = g_t[:, :4 * H].view(B, 4, H).transpose(0, 1)
            wx = gx[t, :, :4 * H].view(B, 4, H).transpose(0, 1)
            torch.addcmul(d_b, d_h, wh, out=y).addcmul_(d_x, wx)
            n = torch.native_layer_norm(y, (H,), None, None, eps)[0]
            o = cell_update(torch.addcmul(ln_b, n, ln_w, out=act), c_all[t], c_all[t + 1], 0)
            n = torch.native_layer_norm(c_all[t + 1], (H,), ln_c_w, ln_c_b, eps)[0]
            torch.mul(o, n.tanh_(), out=h_all[t + 1])  # h_t = σ(o) ⊙ tanh(LN_c(c_t)): [B, H]
        ctx.eps, ctx.hyper_eps = eps, hyper_eps
        ctx.save_for_backward(x, gx, g_buf, h_all, c_all, h_hat_all, c_hat_all, z_all,
                              w_x_all, w_h_all, w_hh, w_z, w_d, b_d, ln_w, ln_b, ln_c_w, ln_c_b,
                              hyper_ln_w, hyper_ln_b, hyper_ln_c_w, hyper_ln_c_b)
        return h_all[1:], c_all[-1], h_hat_all[-1], c_hat_all[-1]

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_cT, d_h_hatT, d_c_hatT):
        r"""Backpropagation through time, carrying ``dh, dc, dĥ, dĉ`` in the loop.

        Per step, backwards (``LN'`` is :func:`layer_norm_dx`; the activations and their
        derivatives, which do not involve the carried gradients, are computed for a chunk of steps
        before the loop):

        .. math::
            dc_t &= dc_{t+1} \odot \sigma(f_{t+1}) + LN_c'\big(dh_t \odot \sigma(o_t)(1 - \tanh^2 LN_c(c_t))\big)\\
            d\bar y_t &= LN'\big(\gamma \odot (dc_t\,\tanh(g)\,\sigma'(i),\; dc_t\, c_{t-1}\sigma'(f),\;
                dc_t\,\sigma(i)(1 - \tanh^2 g),\; dh_t \tanh(LN_c(c_t))\,\sigma'(o))\big)\\
            dd_t &= (d\bar y_t \odot W_h h_{t-1},\; d\bar y_t \odot W_x x_t,\; d\bar y_t), \qquad
                dz^j_t = dd^j_t\, W_d^{j\top}\\
            d\hat h_t &= d\bar a_{t+1} \hat W_h + dz_t W_z, \quad \text{then the hyper cell as the main one:}
                \ d\hat c_t,\ d\bar a_t\\
            dh_{t-1} &= d\mathrm{out}_{t-1} + [d\bar y_t \odot d_h \,|\, d\bar a_t]\, W_{h,all}

        After each chunk every weight gradient is one matmul (or batched matmul, or sum) over the
        chunk's rows, as in :meth:`LSTMLayerFunction.backward`.
        """
        (x, gx, g_buf, h_all, c_all, h_hat_all, c_hat_all, z_all, w_x_all, w_h_all, w_hh, w_z, w_d, b_d,
         ln_w, ln_b, ln_c_w, ln_c_b, hyper_ln_w, hyper_ln_b, hyper_ln_c_w, hyper_ln_c_b) = ctx.saved_tensors
        eps, hyper_eps = ctx.eps, ctx.hyper_eps
        T, B, I = x.shape
        H, K = h_all.shape[2], h_hat_all.shape[2]
        Z = w_z.shape[0] // 12
        d_w = {name: torch.zeros_like(w) for name, w in (
            ("x_all", w_x_all), ("h_all", w_h_all), ("hh", w_hh), ("z", w_z), ("d", w_d))}
        d_b_x_all, d_b_z = x.new_zeros(4 * H + 4 * K), x.new_zeros(12 * Z)
        d_b_d, d_ln_w, d_ln_b = x.new_zeros(4, 1, H), x.new_zeros(4, 1, H), x.new_zeros(4, 1, H)
        d_ln_c_w, d_ln_c_b = x.new_zeros(H), x.new_zeros(H)
        d_hyper_ln_w, d_hyper_ln_b = x.new_zeros(4, K), x.new_zeros(4, K)
        d_hyper_ln_c_w, d_hyper_ln_c_b = x.new_zeros(K), x.new_zeros(K)
        dx = torch.empty_like(x) if ctx.needs_input_grad[0] else None  # dL/dx, when autograd asks for it
        w_d_t = w_d.transpose(1, 2)  # [12, H, Z]
        ws = Workspace(x, min(T, HyperLayerFunction.chunk))
        dh, dc = d_out[T - 1].clone(), d_cT.clone()  # dh_T (through out[-1]), dc_T
        dh_hat, dc_hat = d_h_hatT.clone(), d_c_hatT.clone()
        for start in reversed(range(0, T, HyperLayerFunction.chunk)):
            end = min(start + HyperLayerFunction.chunk, T)
            n = end - start
            rows = n * B
            # --- the chunk's forward tensors again, in a few large calls: d, ȳ, the gates
            d = torch.bmm(z_all[start:end].view(rows, 12, Z).transpose(0, 1), w_d, out=ws("d", 12, rows, H))
            d[8:12] += b_d
            d_h, d_x, d_b = d.view(3, 4, n, B, H).unbind(0)  # [4, n, B, H] each
            wh = g_buf[start:end, :, :4 * H].view(n, B, 4, H).permute(2, 0, 1, 3)  # W_h h_{t-1}: [4, n, B, H]
            wx = gx[start:end, :, :4 * H].view(n, B, 4, H).permute(2, 0, 1, 3)  # W_x x_t
            y = ws("y", n, 4, B, H)  # ȳ, step-major so that each step's [4, B, H] is contiguous
            torch.addcmul(d_b, d_h, wh, out=y.transpose(0, 1)).addcmul_(d_x, wx)
            n_y, mean_y, rstd_y = torch.native_layer_norm(y, (H,), None, None, eps)  # [n, 4, B, H], [n, 4, B, 1]
            act = torch.addcmul(ln_b, n_y, ln_w)
            i, f, g, o = act.unbind(1)  # [n, B, H] each
            g.tanh_()
            act[:, 0:2].sigmoid_()
            o.sigmoid_()
            n_c, mean_c, rstd_c = torch.native_layer_norm(c_all[start + 1:end + 1], (H,), None, None, eps)
            tanh_c = torch.addcmul(ln_c_b, n_c, ln_c_w).tanh_()  # tanh(LN_c(c_t)): [n, B, H]
            a = g_buf[start:end, :, 4 * H:].reshape(n, B, 4, K)  # ā_t
            n_a, mean_a, rstd_a = torch.native_layer_norm(a, (K,), None, None, hyper_eps)
            act_h = torch.addcmul(hyper_ln_b, n_a, hyper_ln_w)  # [n, B, 4, K]
            i_h, f_h, g_h, o_h = act_h.unbind(2)
            g_h.tanh_()
            act_h[:, :, 0:2].sigmoid_()
            o_h.sigmoid_()
            n_ch, mean_ch, rstd_ch = torch.native_layer_norm(c_hat_all[start + 1:end + 1], (K,), None, None, hyper_eps)
            tanh_c_hat = torch.addcmul(hyper_ln_c_b, n_ch, hyper_ln_c_w).tanh_()
            # --- factors that do not involve the carried gradients
            k_c = tanh_c.square().neg_().add_(1).mul_(o)  # dLN_c(c_t) = dh ⊙ σ(o)(1 - tanh²)
            k_o = sigmoid_grad(o).mul_(tanh_c)  # dȳ_o (before γ) = dh ⊙ tanh(LN_c(c)) σ'(o)
            k_ifg = torch.stack([sigmoid_grad(i).mul_(g), sigmoid_grad(f).mul_(c_all[start:end]),
                                 g.square().neg_().add_(1).mul_(i)], dim=1)  # [n, 3, B, H]: ⊙ dc
            k_c_hat = tanh_c_hat.square().neg_().add_(1).mul_(o_h)
            k_o_hat = sigmoid_grad(o_h).mul_(tanh_c_hat)
            k_ifg_hat = torch.stack([sigmoid_grad(i_h).mul_(g_h), sigmoid_grad(f_h).mul_(c_hat_all[start:end]),
                                     g_h.square().neg_().add_(1).mul_(i_h)], dim=2)  # [n, B, 3, K]
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
                torch.mul(d_ybar, d_h[:, s], out=dm[:, :4 * H].view(B, 4, H).transpose(0, 1))
                # --- d = z W_d + b_d and z = ĥ_t W_z^T + b_z, back to ĥ_t
                dz_all[s].view(B, 12, Z).copy_(torch.bmm(dd, w_d_t).transpose(0, 1))
                dh_hat = torch.addmm(dh_hat, dz_all[s], w_z)  # dĥ_t [B, K]
                # --- the hyper cell, as the main one
                dn_c_hat = torch.mul(dh_hat, k_c_hat[s], out=dn_c_hat_all[s])
                dc_hat = dc_hat + layer_norm_dx(dn_c_hat, c_hat_all[t + 1], mean_ch[s], rstd_ch[s], hyper_ln_c_w)
                dy_hat = dy_hat_all[s]
                torch.mul(k_ifg_hat[s], dc_hat.unsqueeze(1), out=dy_hat[:, :3])
                torch.mul(k_o_hat[s], dh_hat, out=dy_hat[:, 3])
                da = layer_norm_dx(dy_hat * hyper_ln_w, a[s], mean_a[s], rstd_a[s]).view(B, 4 * K)  # dā_t
                dc_hat = dc_hat * f_h[s]  # dĉ_{t-1}
                dm[:, 4 * H:] = da
                # --- h_{t-1} and ĥ_{t-1}, read by this step's two recurrent matmuls
                dh_hat = da @ w_hh
                dh = torch.addmm(d_out[t - 1], dm, w_h_all) if t > 0 else dm @ w_h_all
            # --- weight gradients: one matmul (or batched matmul, or sum) over the chunk's n*B rows
            dm_rows = dm_all.view(rows, 4 * H + 4 * K)
            d_w["h_all"].addmm_(dm_rows.t(), h_all[start:end].reshape(rows, H))  # Σ dm^T h_{t-1}
            d_w["hh"].addmm_(dm_rows[:, 4 * H:].t(), h_hat_all[start:end].reshape(rows, K))
            d_gx = ws("d_gx", n, B, 4 * H + 4 * K)  # dL/dgx
            torch.mul(dd_all[8:12], d_x, out=d_gx[:, :, :4 * H].view(n, B, 4, H).permute(2, 0, 1, 3))  # dȳ ⊙ d_x
            d_gx[:, :, 4 * H:] = dm_all[:, :, 4 * H:]
            d_gx = d_gx.view(rows, 4 * H + 4 * K)
            if dx is not None:
                torch.mm(d_gx, w_x_all, out=dx[start:end].view(rows, I))
            d_w["x_all"].addmm_(d_gx.t(), x[start:end].reshape(rows, I))
            d_b_x_all += d_gx.sum(0)
            dz_rows = dz_all.view(rows, 12 * Z)
            d_w["z"].addmm_(dz_rows.t(), h_hat_all[start + 1:end + 1].reshape(rows, K))
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
        return (dx, dh, dc, dh_hat, dc_hat, d_w["x_all"], d_b_x_all, d_w["h_all"], d_w["hh"],
                d_w["z"], d_b_z, d_w["d"], d_b_d, d_ln_w, d_ln_b, d_ln_c_w, d_ln_c_b,
                d_hyper_ln_w, d_hyper_ln_b, d_hyper_ln_c_w, d_hyper_ln_c_b, None, None)


class Workspace:
    """Named scratch buffers of a backward pass, each big enough for a chunk of ``chunk`` steps
    and reused from one chunk to the next: ``ws(name, *shape)`` is a contiguous view of the first
    ``prod(shape)`` numbers of buffer ``name``. (Memory written for the first time costs a page
    fault per 4 KiB page on a CPU: reusing a buffer is faster than allocating a new one.)"""

    def __init__(self, like: torch.Tensor, chunk: int):
        self.like, self.chunk, self.buffers = like, chunk, {}

    def __call__(self, name: str, *shape: int) -> torch.Tensor:
        numel = 1
        for size in shape:
            numel *= size
        buf = self.buffers.get(name)
        if buf is None or buf.numel() < numel:
            buf = self.buffers[name] = self.like.new_empty(numel)
        return buf[:numel].view(shape)


class FastHyperLSTM(HyperLSTM):
    """:class:`lstm_edu.HyperLSTM` with the same parameters and results, run layer by layer over
    the whole sequence with packed matrices (:class:`PackedHyperCell`) and a hand-written backward
    (:class:`HyperLayerFunction`).

    Shapes: as :class:`lstm_edu.HyperLSTM`: ``forward(x [T, B, I], state=None) -> (out [T, B, H],
    (h, c, h_hat, c_hat))``, states ``[n_layers, B, size]`` (unstacked when ``n_layers == 1``).
    """

    def forward(self, x: torch.Tensor, state: Optional[Sequence[torch.Tensor]] = None) -> Tuple[torch.Tensor, State]:
        x = self.check_input(x)
        states, unstacked = self.initial_state(x, state)  # per layer (h, c, h_hat, c_hat)
        inp = x
        if x.shape[0] > 0:
            for layer, cell in enumerate(self.cells):
                p = PackedHyperCell(cell)
                if p.layer_norm:  # the hand-written backward (HyperLSTM's cells always have layer norms)
                    h, c, h_hat, c_hat = states[layer]
                    inp, c, h_hat, c_hat = HyperLayerFunction.apply(inp, h, c, h_hat, c_hat, *p.weights())
                    states[layer] = (inp[-1], c, h_hat, c_hat)
                else:  # a cell built with layer_norm=False: autograd through hyper_layer
                    inp, states[layer] = hyper_layer(p, inp, *states[layer])
        _, final = self.finish(x, [], states, unstacked)
        out = inp if x.shape[0] > 0 else x.new_zeros(0, x.shape[1], self.hidden_size)
        return out, final


__all__ = ["FastLSTM", "FastHyperLSTM", "LSTMLayerFunction", "lstm_pointwise", "tanh_",
           "PackedHyperCell", "hyper_layer", "WeightTape", "HyperLayerFunction", "layer_norm_dx",
           "cell_update", "Workspace"]
