"""Copying weights between our stacked cells and ``torch.nn.RNN`` / ``torch.nn.LSTM``.

Our cells (``RNNCell``, ``LSTMCell``) hold one ``lin_x`` (no bias) and one ``lin_h`` (with the
bias); PyTorch's modules hold, per layer ``l``, ``weight_ih_l{l}``, ``weight_hh_l{l}`` and two bias
vectors ``bias_ih_l{l}`` and ``bias_hh_l{l}``. The weights have the same layout (rows in the gate
order i, f, g, o for the LSTM), and the two biases are only ever added, so their sum is
``lin_h.bias``.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn


@torch.no_grad()
def copy_from_torch(cells: Iterable[nn.Module], module: nn.RNNBase) -> None:
    """Copy ``module``'s weights into ``cells`` (one cell per layer), summing its two biases."""
    for layer, cell in enumerate(cells):
        cell.lin_x.weight.copy_(getattr(module, f"weight_ih_l{layer}"))
        cell.lin_h.weight.copy_(getattr(module, f"weight_hh_l{layer}"))
        if module.bias:  # bias_ih + bias_hh: PyTorch only ever adds them
            cell.lin_h.bias.copy_(getattr(module, f"bias_ih_l{layer}")
                                  + getattr(module, f"bias_hh_l{layer}"))
        else:
            cell.lin_h.bias.zero_()


@torch.no_grad()
def copy_to_torch(cells: Iterable[nn.Module], module: nn.RNNBase) -> None:
    """Copy ``cells``' weights into ``module``; its ``bias_ih`` becomes zero, ``bias_hh`` our
    bias."""
    for layer, cell in enumerate(cells):
        getattr(module, f"weight_ih_l{layer}").copy_(cell.lin_x.weight)
        getattr(module, f"weight_hh_l{layer}").copy_(cell.lin_h.weight)
        getattr(module, f"bias_ih_l{layer}").zero_()
        getattr(module, f"bias_hh_l{layer}").copy_(cell.lin_h.bias)


def check_convertible(module: nn.Module, expected: type, target: str, required: dict) -> None:
    """``module`` must be an ``expected`` with each attribute in ``required`` at the given
    value."""
    if not isinstance(module, expected):
        raise TypeError(f"from_torch expects a torch.nn.{expected.__name__}, "
                        f"got {type(module).__name__}")
    for attr, plain in required.items():
        if getattr(module, attr) != plain:
            raise ValueError(f"{attr}={getattr(module, attr)!r} has no counterpart in {target} "
                             f"(needs {plain!r})")


def stack_from_torch(cls: type, module: nn.RNNBase, expected: type, target: str,
                     required: dict) -> nn.Module:
    """A new ``cls`` (our ``LSTM`` or ``RNN``) with ``module``'s sizes, device, dtype and weights.

    ``module`` must be an ``expected`` (``nn.LSTM`` or ``nn.RNN``) with the attribute values in
    ``required``; ``target`` names ``cls`` in the error message.
    """
    check_convertible(module, expected, target, required)
    ref = module.weight_ih_l0
    ours = cls(module.input_size, module.hidden_size, module.num_layers)
    ours = ours.to(device=ref.device, dtype=ref.dtype)
    copy_from_torch(ours.cells, module)  # lin_h.bias = bias_ih + bias_hh
    return ours


def stack_to_torch(stack: nn.Module, torch_type: type) -> nn.RNNBase:
    """A new ``torch_type`` (``nn.LSTM`` or ``nn.RNN``, time-major) with ``stack``'s sizes,
    device, dtype and weights; its ``bias_ih`` is zero."""
    ref = stack.cells[0].lin_h.weight
    module = torch_type(stack.input_size, stack.hidden_size, stack.n_layers)
    module = module.to(device=ref.device, dtype=ref.dtype)
    copy_to_torch(stack.cells, module)
    return module
