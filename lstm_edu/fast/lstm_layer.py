"""FastLSTM: one autograd.Function per layer, forward and backward over the whole sequence."""

from __future__ import annotations

from typing import List, Tuple

import torch
from torch.autograd.function import once_differentiable

from ..models.lstm import LSTM
from ..models.stack import State
from .pointwise import Workspace, lstm_pointwise, tanh_


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
        scale[2 * H : 3 * H] = 2
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
            d\,\mathrm{gates}_t &= \big(dc_t\, \tanh(g_t)\,\sigma'(i_t),\; dc_t\,
            c_{t-1}\,\sigma'(f_t),\;
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
            tanh_c = tanh_(
                ws("tanh_c", n, B, H).copy_(c_all[start + 1 : end + 1])
            )  # tanh(c_t): [n, B, H]
            k_o = torch.addcmul(o, o, o, value=-1, out=ws("k_o", n, B, H)).mul_(
                tanh_c
            )  # dgate_o = dh ⊙ tanh(c) σ'(o)
            dc_from_dh = (
                tanh_c.mul_(tanh_c).neg_().add_(1).mul_(o)
            )  # ∂h_t/∂c_t = σ(o)(1 - tanh² c_t)
            k_ifg = ws("k_ifg", n, B, 3, H)  # dgate_{i,f,g} = dc ⊙ k_{i,f,g}
            torch.addcmul(i, i, i, value=-1, out=k_ifg[:, :, 0]).mul_(g)  # tanh(g) σ'(i)
            torch.addcmul(f, f, f, value=-1, out=k_ifg[:, :, 1]).mul_(
                c_all[start:end]
            )  # c_{t-1} σ'(f)
            torch.mul(g, g, out=k_ifg[:, :, 2]).neg_().add_(1).mul_(i)  # σ(i)(1 - tanh² g)

            d_gates = ws("d_gates", n, B, 4 * H)  # [n, B, 4H]
            for s in range(n - 1, -1, -1):  # step t = start + s, backwards
                t = start + s
                dc = torch.addcmul(dc, dh, dc_from_dh[s])  # dc_t
                dg = d_gates[s]  # [B, 4H], a view we fill in place
                torch.mul(k_ifg[s], dc.unsqueeze(1), out=dg[:, : 3 * H].view(B, 3, H))
                torch.mul(k_o[s], dh, out=dg[:, 3 * H :])
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
            d_w_h.addmm_(dG[first * B :].t(), out[start + first - 1 : end - 1].reshape(-1, H))
        return d_x, d_w_x, d_w_h, d_b, dh, dc


class FastLSTM(LSTM):
    """:class:`lstm_edu.LSTM` with the same parameters and results, run layer by layer over the
    whole sequence with :class:`LSTMLayerFunction` (hand-written backward).

    Shapes: as :class:`lstm_edu.LSTM`: ``forward(x [T, B, I], state=None) -> (out [T, B, H], (h,
    c))``,
    states ``[n_layers, B, H]`` (or ``[B, H]`` when ``n_layers == 1``).
    """

    def run(self, x: torch.Tensor, states: List[State]) -> Tuple[torch.Tensor, List[State]]:
        """The layers, one :class:`LSTMLayerFunction` each over the whole sequence (the input
        checks, the zero-step case and the state convention stay ``StackedRNN.forward``'s).

        Shapes: ``x [T, B, N_x]`` (``T >= 1``), ``states`` per layer ``(h0, c0)`` ``[B, N_h]``
        each -> ``out [T, B, N_h]`` and per layer ``(h_T, c_T)``."""
        if any(isinstance(cell.layer_norm_c, torch.nn.LayerNorm) for cell in self.cells):
            return super().run(x, states)  # layer norm: the reference loop (no fast kernel)
        out, final = x, []
        for cell, (h0, c0) in zip(self.cells, states):
            bias = cell.lin_h.bias  # [4 N_h], gates i, f, g, o
            if cell.forget_bias:  # packed into the f gate's bias: differentiable, the same sum
                H = cell.hidden_size
                bias = bias + torch.cat(
                    [
                        bias.new_zeros(H),
                        bias.new_full((H,), cell.forget_bias),
                        bias.new_zeros(2 * H),
                    ]
                )
            out, c_T = LSTMLayerFunction.apply(
                out, cell.lin_x.weight, cell.lin_h.weight, bias, h0, c0
            )  # [T, B, N_h]
            final.append((out[-1], c_T))
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
