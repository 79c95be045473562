"""Running a stack of recurrent cells over a sequence: the loop that `LSTM` and `HyperLSTM` share.

Both networks are the same loop: for every time step ``t``, feed ``x_t`` to the first layer's cell,
feed each layer's new ``h`` to the next layer, and collect the top layer's ``h`` as the output.
Only the cell and the number of state tensors differ (``(h, c)`` for the LSTM,
``(h, c, h_hat, c_hat)`` for the HyperLSTM), so the loop and the state bookkeeping live here once.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
from torch import nn

from .checks import check_shape, check_tensor, shape_str

State = Tuple[torch.Tensor, ...]


class StackedRNN(nn.Module):
    """Base class: ``n_layers`` cells in ``self.cells`` run over time, layer by layer.

    Subclasses set ``self.cells`` (an ``nn.ModuleList``), ``input_size``, ``n_layers``,
    ``state_names`` (e.g. ``("h", "c")``) and ``state_sizes`` (e.g. ``(hidden_size, hidden_size)``) and ``state_size_names``
    (e.g. ``("hidden_size", "hidden_size")``, used in error messages).
    Every cell is called as ``cell(x, *state) -> new_state`` and ``new_state[0]`` is its output ``h``.

    State convention (a departure from the seed's docstring, which says ``[batch_size, hidden_size]``
    while its own code stacks a layer axis): every state tensor is ``[n_layers, batch_size, size]``,
    as in ``torch.nn.LSTM``. When ``n_layers == 1`` the unstacked ``[batch_size, size]`` form is
    accepted too, and the returned state then has the same unstacked form, so a state can be fed
    back in whichever form it came.
    """

    cells: nn.ModuleList
    input_size: int
    n_layers: int
    state_names: Tuple[str, ...]
    state_sizes: Tuple[int, ...]
    state_size_names: Tuple[str, ...]

    def _param(self) -> torch.Tensor:
        return next(self.parameters())

    def check_input(self, x: object) -> torch.Tensor:
        """``x`` must be a float tensor ``[n_steps, batch_size, input_size]`` on the module's device."""
        x = check_tensor("x", x, self._param())
        check_shape("x", x, [("n_steps", None), ("batch_size", None), ("input_size", self.input_size)])
        return x

    def initial_state(self, x: torch.Tensor, state: Optional[Sequence[torch.Tensor]]) -> Tuple[List[State], bool]:
        """Split ``state`` into one tuple per layer; zeros when ``state`` is ``None``.

        Returns ``(per_layer, unstacked)``: ``per_layer[l]`` is layer ``l``'s state tuple, each tensor
        ``[batch_size, size]``; ``unstacked`` says the caller passed ``[batch_size, size]`` tensors.
        """
        batch_size = x.shape[1]
        names, sizes = self.state_names, self.state_sizes
        if state is None:
            zeros = [x.new_zeros(self.n_layers, batch_size, size) for size in sizes]
            return [tuple(s[layer] for s in zeros) for layer in range(self.n_layers)], False
        if isinstance(state, torch.Tensor) or not isinstance(state, (tuple, list)):
            raise TypeError(
                f"state must be a tuple of {len(names)} tensors ({', '.join(names)}), "
                f"got {type(state).__name__}"
            )
        if len(state) != len(names):
            raise ValueError(
                f"state must be a tuple of {len(names)} tensors ({', '.join(names)}), got {len(state)} tensors"
            )
        unstacked = self.n_layers == 1 and all(isinstance(s, torch.Tensor) and s.dim() == 2 for s in state)
        per_tensor = []
        for name, size, label, s in zip(names, sizes, self.state_size_names, state):
            s = check_tensor(name, s, self._param())
            if unstacked:
                check_shape(name, s, [("batch_size", batch_size), (label, size)])
                s = s.unsqueeze(0)
            else:
                check_shape(name, s, [("n_layers", self.n_layers), ("batch_size", batch_size), (label, size)])
            per_tensor.append(s)
        return [tuple(s[layer] for s in per_tensor) for layer in range(self.n_layers)], unstacked

    def forward(self, x: torch.Tensor, state: Optional[Sequence[torch.Tensor]] = None) -> Tuple[torch.Tensor, State]:
        """Run the stack over the sequence ``x``.

        Shapes: ``x`` ``[n_steps, batch_size, input_size]``; ``state`` a tuple of tensors
        ``[n_layers, batch_size, size]`` (see the class docstring), or ``None`` for zeros.
        Returns ``out`` ``[n_steps, batch_size, hidden_size]`` (the top layer's ``h`` at every step)
        and the final state in the same form as the given one. With ``n_steps == 0`` ``out`` is
        empty and the state is returned as it came.
        """
        x = self.check_input(x)
        states, unstacked = self.initial_state(x, state)
        out = []
        for t in range(x.shape[0]):
            inp = x[t]  # [batch_size, input_size]
            for layer, cell in enumerate(self.cells):
                states[layer] = cell(inp, *states[layer])
                inp = states[layer][0]  # this layer's h is the next layer's input
            out.append(inp)  # [batch_size, hidden_size]
        return self.finish(x, out, states, unstacked)

    def finish(self, x: torch.Tensor, out: List[torch.Tensor], states: List[State], unstacked: bool) -> Tuple[torch.Tensor, State]:
        """Stack the per-step outputs and per-layer states into the returned tensors."""
        hidden_size = self.state_sizes[0]
        out_t = torch.stack(out) if out else x.new_zeros(0, x.shape[1], hidden_size)
        final = tuple(torch.stack([states[layer][k] for layer in range(self.n_layers)]) for k in range(len(self.state_names)))
        if unstacked:
            final = tuple(s[0] for s in final)
        return out_t, final

    def extra_repr(self) -> str:
        sizes = ", ".join(f"{n}={s}" for n, s in zip(self.state_names, self.state_sizes))
        return f"input_size={self.input_size}, n_layers={self.n_layers}, state: {sizes}"


__all__ = ["StackedRNN", "State", "shape_str"]
