"""FastLSTM: one autograd.Function per layer, forward and backward over the whole sequence."""

from __future__ import annotations

from typing import List, Tuple

import torch
from torch.autograd.function import once_differentiable

from ..models.lstm import LSTM
from ..models.stack import State
from . import lstm_steps
from .buffers import POOL, contiguous
from .compiled import loops_for
from .matmul import Panels, linear_into
from .pointwise import Workspace, lstm_pointwise


class LSTMLayerFunction(torch.autograd.Function):
    r"""One LSTM layer over a whole sequence, with a hand-written backward.

    ``forward(x [T, B, N_x], w_x [4N_h, N_x], w_h [4N_h, N_h], b [4N_h], h0 [B, N_h],
    c0 [B, N_h]) -> (out [T, B, N_h], c_T [B, N_h])``; ``out[-1]`` is ``h_T``.

    What goes step by step (the loops over time) is in :mod:`lstm_steps` (Python) or its
    compiled twin (:mod:`compiled`); here is everything that works on all steps at once.
    """

    # Steps per chunk of the backward pass (its temporaries are [chunk, B, ...]).
    chunk = 32
    # The elementwise function of the Python loop; on CUDA tensors a compiled one when
    # ``FastLSTM.compile_pointwise()`` has set ``pointwise_cuda``.
    pointwise = staticmethod(lstm_pointwise)
    pointwise_cuda = None

    @staticmethod
    def forward(ctx, x, w_x, w_h, b, h0, c0):
        T, B, N_x = x.shape
        N_h = w_h.shape[1]
        # (2) input projections of all steps at once: [T, B, 4N_h]. This buffer becomes the gate
        # values: step t adds W_h h_{t-1} and b to row t and activates it in place.
        # (The buffers come from POOL: memory of earlier calls, used again.)
        act = POOL.empty(x, T, B, 4 * N_h)
        linear_into(act.view(T * B, 4 * N_h), x.reshape(T * B, N_x), w_x)
        out = POOL.empty(x, T, B, N_h)  # h_1 ... h_T
        c_all = POOL.empty(x, T + 1, B, N_h)  # c_0 ... c_T
        c_all[0] = c0
        # (3) and (4): the loop over time, compiled when it can be
        compiled = loops_for(x)
        if compiled is not None:
            w_h = w_h.contiguous()  # packed once for the per-step matmuls (Panels)
            compiled.lstm_forward(act, w_h, *Panels.args(compiled, w_h, B, T), b, h0, c_all,
                                  out)
        else:
            pointwise = LSTMLayerFunction.pointwise
            if x.is_cuda and LSTMLayerFunction.pointwise_cuda is not None:
                pointwise = LSTMLayerFunction.pointwise_cuda
            lstm_steps.lstm_forward(act, w_h, None, 0, b, h0, c_all, out, pointwise)
        # Kept for the backward pass: act (4 numbers per step, example and hidden unit) and c
        # (1), plus x and out, the neighbouring layers' tensors anyway; tanh(c_t) is recomputed.
        ctx.save_for_backward(x, w_x, w_h, h0, out, c_all, act)
        return out, c_all[-1]

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_cT):
        r"""Backpropagation through time (:func:`lstm_steps.lstm_backward`), chunk by chunk
        from the last to the first, carrying only ``dh`` and ``dc`` from one step to the one
        before; after each chunk (``LSTMLayerFunction.chunk`` steps) every weight gradient is
        one matmul over all the chunk's rows. Working in chunks bounds the memory of the
        per-step temporaries."""
        x, w_x, w_h, h0, out, c_all, act = ctx.saved_tensors
        T, B, N_x = x.shape
        N_h = w_h.shape[1]
        loops = loops_for(x)
        steps = loops or lstm_steps
        # dL/dx only when autograd asks for it (not for the first layer's input in training)
        d_x = POOL.empty(x, *x.shape) if ctx.needs_input_grad[0] else None  # [T, B, N_x]
        ws = Workspace(x, min(T, LSTMLayerFunction.chunk))  # the chunks' buffers, reused
        d_w_x, d_w_h = torch.zeros_like(w_x), torch.zeros_like(w_h)  # [4N_h, N_x], [4N_h, N_h]
        d_b = w_h.new_zeros(4 * N_h)
        d_out = contiguous(d_out)  # dL/dout (h_T is out[-1]: its gradient is in there)
        dh, dc = torch.zeros_like(h0), d_cT.clone()  # what reaches h_T, c_T from later steps
        w_h_t = w_h.t().contiguous()  # dgates -> dgates W_h: [N_h, 4N_h], packed once
        panels_t = Panels.args(loops, w_h_t, B, T)
        for start in reversed(range(0, T, LSTMLayerFunction.chunk)):
            end = min(start + LSTMLayerFunction.chunk, T)
            n = end - start
            d_gates = ws("d_gates", n, B, 4 * N_h)  # [n, B, 4N_h]
            steps.lstm_backward(start, end, act, c_all, w_h_t, *panels_t, d_out, dh, dc,
                                d_gates)
            # (5) weight gradients: one matmul each over the chunk's n*B rows
            dG = d_gates.view(n * B, 4 * N_h)
            d_w_x.addmm_(dG.t(), x[start:end].reshape(n * B, N_x))  # dW_x += Σ_t dgates_t^T x_t
            d_b += dG.sum(0)
            if d_x is not None:
                torch.mm(dG, w_x, out=d_x[start:end].view(n * B, N_x))  # dL/dx_t = dgates_t W_x
            # dW_h += Σ_t dgates_t^T h_{t-1}, where h_{t-1} is h_0 for t = 0 and out[t-1] after
            first = 1 if start == 0 else 0
            if first:
                d_w_h.addmm_(dG[:B].t(), h0)
            d_w_h.addmm_(dG[first * B:].t(), out[start + first - 1:end - 1].reshape(-1, N_h))
        return d_x, d_w_x, d_w_h, d_b, dh, dc


class FastLSTM(LSTM):
    """:class:`lstm_edu.LSTM` with the same parameters and results, run layer by layer over the
    whole sequence with :class:`LSTMLayerFunction` (hand-written backward).

    Shapes: as :class:`lstm_edu.LSTM`:
    ``forward(x [T, B, N_x], state=None) -> (out [T, B, N_h], (h, c))``,
    states ``[n_layers, B, N_h]`` (or ``[B, N_h]`` when ``n_layers == 1``).
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
                N_h = cell.hidden_size
                bias = bias + torch.cat([bias.new_zeros(N_h),
                                         bias.new_full((N_h,), cell.forget_bias),
                                         bias.new_zeros(2 * N_h)])
            out, c_T = LSTMLayerFunction.apply(
                out, cell.lin_x.weight, cell.lin_h.weight, bias, h0, c0)  # [T, B, N_h]
            final.append((out[-1], c_T))
        return out, final

    @staticmethod
    def compile_pointwise(enable: bool = True) -> bool:
        """GPU only: compile the per-step elementwise function with ``torch.compile`` so that it
        runs as one fused kernel on CUDA tensors (CPU tensors keep the eager function; the book's
        stored runs used a CPU, and ``make gpu-check`` tests this path on a GPU). Applies to every
        ``FastLSTM``. Returns whether it is enabled; without CUDA and Triton it does nothing and
        returns ``False``."""
        LSTMLayerFunction.pointwise_cuda = None
        if not (enable and torch.cuda.is_available()):
            return False
        try:
            import triton  # noqa: F401
        except ImportError:
            return False
        LSTMLayerFunction.pointwise_cuda = torch.compile(lstm_pointwise, dynamic=False)
        return True
