"""Checkers for chapter 3 (an LSTM from scratch)."""

from __future__ import annotations

from typing import Callable

import torch

from ..models.lstm import LSTM
from . import Hint, attempt, compare, readable, run_checker


def check_lstm_layer_loop(fn: Callable[..., object]) -> bool:
    r"""Check ``fn(cell, x, h, c) -> (out, (h_T, c_T))``: one LSTM layer run over a sequence.

    ``cell`` is an ``LSTMCell``, ``x`` ``[T, B, N_x]``, ``h`` and ``c`` ``[B, N_h]``;
    ``out`` ``[T, B, N_h]`` holds :math:`h_t` for every step and ``(h_T, c_T)`` is the state
    after the last step. The reference is ``lstm_edu.LSTM`` with one layer.
    """

    def body() -> None:
        torch.manual_seed(3)
        T, B, N_x, H = 6, 2, 3, 4
        lstm = LSTM(N_x, H, 1)
        cell = lstm.cells[0]
        x, h, c = torch.randn(T, B, N_x), torch.randn(B, H), torch.randn(B, H)
        with torch.no_grad():
            out_want, (h_want, c_want) = lstm(x, (h, c))
        got = attempt(fn, cell, x.clone(), h.clone(), c.clone(), what="your function")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Hint("return (out, (h_T, c_T)): the outputs and a pair holding the final state, "
                       f"got {type(got).__name__}")
        if not isinstance(got[1], (tuple, list)) or len(got[1]) != 2:
            raise Hint("the second thing you return must be a pair (h_T, c_T) of two tensors, "
                       f"got {type(got[1]).__name__}: return out, (h, c)")
        out, (h_got, c_got) = got
        if isinstance(out, (list, tuple)):
            raise Hint(f"out is a Python {type(out).__name__} of tensors: stack it into one tensor "
                       "[n_steps, B, H] "
                       "with torch.stack(out)")
        out, h_got, c_got = readable("out", out), readable("h_T", h_got), readable("c_T", c_got)
        if isinstance(out, torch.Tensor) and out.shape == (B, T, H):
            raise Hint("out is [batch, n_steps, hidden]; stack along a new first axis "
                       "(time-major): torch.stack(out, dim=0)")
        if isinstance(out, torch.Tensor) and out.shape == out_want.shape:
            if torch.allclose(out[0].to(h.dtype), h, atol=1e-6):
                raise Hint("out[0] is the initial h; out[t] should be the h after step t (append "
                           "after calling the cell)")
        compare("out", out, out_want, hint="one cell call per step, in order, each fed the state "
                                           "the "
                                            "previous call returned; out holds every step's new h")
        compare("h_T", h_got, h_want, hint="return the h after the last step")
        compare("c_T", c_got, c_want, hint="return the c after the last step")

    return run_checker("lstm_layer_loop", body)


__all__ = ["check_lstm_layer_loop"]
