r"""Fast drop-in versions of :class:`lstm_edu.LSTM` and :class:`lstm_edu.HyperLSTM`.

``FastLSTM`` and ``FastHyperLSTM`` are subclasses with the same constructor, the same parameters
(so the same ``state_dict``), the same ``forward(x, state=None)``, the same state convention and
the same input checks as the references. They compute the same numbers (to rounding) and the same
gradients, faster. Chapter 9 of the book builds them up one step at a time; the ideas are:

1. **Work on a whole layer over the whole sequence.** The reference runs "for each step, for each
   layer, call the cell". Layer ``l`` at step ``t`` only needs layer ``l-1`` at step ``t``, so we
   can
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

from .hyper_layer import FastHyperLSTM, HyperLayerFunction
from .hyper_tape import PackedHyperCell, WeightTape, hyper_layer
from .lstm_layer import FastLSTM, LSTMLayerFunction
from .pointwise import (
    Workspace,
    cell_update,
    layer_norm_dx,
    lstm_pointwise,
    sigmoid_grad,
    tanh_,
)

__all__ = [
    "FastLSTM",
    "FastHyperLSTM",
    "LSTMLayerFunction",
    "lstm_pointwise",
    "tanh_",
    "PackedHyperCell",
    "hyper_layer",
    "WeightTape",
    "HyperLayerFunction",
    "layer_norm_dx",
    "cell_update",
    "sigmoid_grad",
    "Workspace",
]
