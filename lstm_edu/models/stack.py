"""Running a stack of recurrent cells over a sequence: what `RNN`, `LSTM` and `HyperLSTM` share.

All three networks are the same loop: for every time step ``t``, feed ``x_t`` to the first layer's
cell, feed each layer's new ``h`` to the next layer, and collect the top layer's ``h`` as the
output. Only the cell and its state tensors differ (``(h,)`` for the plain RNN, ``(h, c)`` for the
LSTM, ``(h, c, h_hat, c_hat)`` for the HyperLSTM), so the loop, the building of the cells, the
size checks and the state bookkeeping live here once.
"""

from __future__ import annotations

from typing import Iterator, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .checks import check_shape, check_size, check_tensor, shape_str

State = Tuple[torch.Tensor, ...]


class StackedRNN(nn.Module):
    """Base class: ``n_layers`` cells in ``self.cells``, run over time, layer by layer.

    A subclass says which cell it stacks and what that cell's state is, e.g. for the LSTM::

        cell_type = LSTMCell
        state_spec = (("h", "hidden_size"), ("c", "hidden_size"))

    ``cell_options`` (a dict, e.g. ``{"layer_norm": True, "forget_bias": 1.0}``) is passed to every
    cell as keyword arguments, unchecked here (the cell checks them).
    ``state_spec`` names each state tensor and the attribute that holds its size; the first one
    is ``h``, the cell's output. The subclass's constructor passes its sizes on, ``hidden_size``
    among them: ``super().__init__(input_size, n_layers, hidden_size=hidden_size)``; each becomes
    an attribute and a keyword argument of ``cell_type``. Every cell is called as
    ``cell(x, *state) -> new_state``.

    State convention (a departure from labml.ai's docstring, which says
    ``[batch_size, hidden_size]`` while its own code stacks a layer axis): every state tensor is
    ``[n_layers, batch_size, size]``, as in ``torch.nn.LSTM``. When ``n_layers == 1`` the
    unstacked ``[batch_size, size]`` form is accepted too, and the returned state then has the
    same unstacked form, so a state can be fed back in whichever form it came.

    Shapes:
        ``forward(x [T, B, N_x], state=None) -> (out [T, B, N_h], state)``, ``state`` a tuple
        with one tensor per entry of ``state_spec``, each ``[L, B, size]``.
    """

    cell_type: type
    state_spec: Tuple[Tuple[str, str], ...]

    def __init__(self, input_size: int, n_layers: int, cell_options: Optional[dict] = None,
                 **sizes: int):
        super().__init__()
        # options every cell gets as they are (not sizes): e.g. layer_norm, forget_bias
        self.cell_options = dict(cell_options or {})
        self.input_size = check_size("input_size", input_size)
        for name, size in sizes.items():  # hidden_size (and the HyperLSTM's hyper_size, n_z)
            setattr(self, name, check_size(name, size))
        self.n_layers = check_size("n_layers", n_layers)
        # layer 0 reads x_t (N_x features), layer l > 0 the h_t of layer l - 1 (N_h features)
        self.cells = nn.ModuleList([
            self.cell_type(input_size if layer == 0 else self.hidden_size, **sizes,
                           **self.cell_options)
            for layer in range(n_layers)
        ])

    @property
    def state_names(self) -> Tuple[str, ...]:
        """The names of the state tensors, e.g. ``("h", "c")``."""
        return tuple(name for name, _ in self.state_spec)

    @property
    def state_sizes(self) -> Tuple[int, ...]:
        """The last dimension of each state tensor, e.g. ``(hidden_size, hidden_size)``."""
        return tuple(getattr(self, size_name) for _, size_name in self.state_spec)

    def _param(self) -> torch.Tensor:
        return next(self.parameters())

    def check_input(self, x: object) -> torch.Tensor:
        """``x`` must be a float tensor ``[n_steps, batch_size, input_size]`` on the module's
        device."""
        x = check_tensor("x", x, self._param())
        check_shape("x", x, [("n_steps", None), ("batch_size", None),
                             ("input_size", self.input_size)])
        return x

    def initial_state(self, x: torch.Tensor, state: Optional[Sequence[torch.Tensor]]
                      ) -> Tuple[List[State], bool]:
        """Split ``state`` into one tuple per layer; zeros when ``state`` is ``None``.

        Returns ``(per_layer, unstacked)``: ``per_layer[l]`` is layer ``l``'s state tuple, each
        tensor ``[batch_size, size]``; ``unstacked`` says the caller passed ``[batch_size, size]``
        tensors.
        """
        batch_size = x.shape[1]
        names = self.state_names
        if state is None:
            zeros = [x.new_zeros(self.n_layers, batch_size, size) for size in self.state_sizes]
            return [tuple(s[layer] for s in zeros) for layer in range(self.n_layers)], False
        if isinstance(state, torch.Tensor) or not isinstance(state, (tuple, list)):
            raise TypeError(
                f"state must be a tuple of {len(names)} tensors ({', '.join(names)}), "
                f"got {type(state).__name__}"
            )
        if len(state) != len(names):
            raise ValueError(
                f"state must be a tuple of {len(names)} tensors ({', '.join(names)}), "
                f"got {len(state)} tensors"
            )
        unstacked = self.n_layers == 1 and all(
            isinstance(s, torch.Tensor) and s.dim() == 2 for s in state)
        per_tensor = []
        for (name, size_name), s in zip(self.state_spec, state):
            s = check_tensor(name, s, self._param())
            size = getattr(self, size_name)
            if unstacked:
                check_shape(name, s, [("batch_size", batch_size), (size_name, size)])
                s = s.unsqueeze(0)
            else:
                check_shape(name, s, [("n_layers", self.n_layers), ("batch_size", batch_size),
                                      (size_name, size)])
            per_tensor.append(s)
        return [tuple(s[layer] for s in per_tensor) for layer in range(self.n_layers)], unstacked

    def steps(self, x: torch.Tensor, states: Sequence[State]) -> Iterator[List[State]]:
        """The loop over time and layers: after each step ``t``, every layer's new state.

        Shapes: ``x [T, B, N_x]``; ``states`` one tuple per layer, each tensor ``[B, size]`` (as
        :meth:`initial_state` returns them). Yields ``T`` times a new list of ``L`` tuples in the
        same form: ``layers[l]`` is layer ``l``'s state after step ``t``, ``layers[l][0]`` its
        ``h_t`` ``[B, N_h]``, the input of layer ``l + 1`` at the same step; ``layers[-1][0]`` is
        the network's output at step ``t``.
        """
        for x_t in x:  # [B, N_x]
            inp, layers = x_t, []
            for cell, state in zip(self.cells, states):
                state = cell(inp, *state)  # this layer's new (h_t, ...)
                layers.append(state)
                inp = state[0]  # this layer's h_t is the next layer's input: [B, N_h]
            states = layers
            yield layers

    def forward(self, x: torch.Tensor, state: Optional[Sequence[torch.Tensor]] = None
                ) -> Tuple[torch.Tensor, State]:
        """Run the stack over the sequence ``x``.

        Shapes: ``x`` ``[n_steps, batch_size, input_size]``; ``state`` a tuple of tensors
        ``[n_layers, batch_size, size]`` (see the class docstring), or ``None`` for zeros.
        Returns ``out`` ``[n_steps, batch_size, hidden_size]`` (the top layer's ``h`` at every
        step) and the final state in the same form as the given one. With ``n_steps == 0``
        ``out`` is empty and the state is returned as it came.
        """
        x = self.check_input(x)
        states, unstacked = self.initial_state(x, state)  # per layer a tuple of [B, size]
        if x.shape[0] == 0:  # no steps: nothing to compute
            return x.new_zeros(0, x.shape[1], self.hidden_size), self.final_state(states, unstacked)
        out, states = self.run(x, states)  # [T, B, N_h], every layer's state after step T
        return out, self.final_state(states, unstacked)

    def run(self, x: torch.Tensor, states: List[State]) -> Tuple[torch.Tensor, List[State]]:
        """The computation itself, for a sequence of at least one step: the top layer's ``h_t``
        at every step ``[T, B, N_h]`` and every layer's state after the last step (the form of
        :meth:`steps`). The fast versions (``lstm_edu.fast``) compute the same another way."""
        out = []
        for layers in self.steps(x, states):
            out.append(layers[-1][0])  # the top layer's h_t: [B, N_h]
        return torch.stack(out), layers

    def final_state(self, states: Sequence[State], unstacked: bool) -> State:
        """Stack the per-layer states into the returned state: one ``[L, B, size]`` tensor per
        state tensor (``[B, size]`` when the caller passed it unstacked)."""
        final = tuple(torch.stack(per_layer) for per_layer in zip(*states))  # [L, B, size] each
        if unstacked:
            final = tuple(s[0] for s in final)
        return final

    def extra_repr(self) -> str:
        sizes = ", ".join(f"{n}={s}" for n, s in zip(self.state_names, self.state_sizes))
        return f"input_size={self.input_size}, n_layers={self.n_layers}, state: {sizes}"


__all__ = ["StackedRNN", "State", "shape_str"]
