r"""Fast drop-in versions of :class:`lstm_edu.LSTM` and :class:`lstm_edu.HyperLSTM`.

``FastLSTM`` and ``FastHyperLSTM`` are subclasses with the same constructor, the same parameters
(so the same ``state_dict``), the same ``forward(x, state=None)``, the same state convention and
the same input checks as the references. They compute the same numbers (to rounding) and the
same gradients, faster. Chapters 9 and 9b of the book build them up one step at a time; the
ideas are:

1. **Work on a whole layer over the whole sequence.** The reference runs "for each step, for
   each layer, call the cell". Layer ``l`` at step ``t`` only needs layer ``l-1`` at step ``t``,
   so we can instead run layer 0 over all steps, then layer 1 over all steps, and so on.
   Everything that does not depend on the recurrence can then be computed for all steps at once.
2. **Input projections for all steps in one matmul.** ``W_x x_t`` does not depend on
   ``h_{t-1}``: ``X [T*B, N_x] @ W_x^T`` is one large, efficient matrix multiply instead of ``T``
   small ones.
3. **All gates in one matmul.** ``W_h`` of the four gates stacked ``[4N_h, N_h]``: one
   ``h @ W_h^T`` per step (the references already do this for the LSTM; the HyperLSTM reference
   does four).
4. **Fused elementwise work, in a compiled loop.** The loop over time steps is in
   :mod:`.lstm_steps` and :mod:`.hyper_steps` (Python: a few PyTorch calls per step, each with
   microseconds of overhead) and, with the same arguments and results, in a small C++ extension
   (``csrc/``) that :mod:`.compiled` builds on first use: the whole loop in one call, each step's
   elementwise work (gates, layer norms, state update) fused into one vectorised pass over the
   numbers. Without a compiler the Python loops run, after a one-line notice.
5. **A hand-written backward** (a ``torch.autograd.Function`` over the whole sequence:
   :class:`LSTMLayerFunction`, :class:`HyperLayerFunction`): the backward loop only carries
   ``dh`` and ``dc`` (and the hyper cell's ``dĥ``, ``dĉ``) through time; every weight gradient
   is then one large matmul over many steps, instead of ``T`` small ones that autograd would do.
   :func:`hyper_layer` is the HyperLSTM's earlier version, differentiated by autograd (with a
   :class:`WeightTape`); chapter 9b times both.
6. **Matrix multiplies where they are fastest.** On a CPU, :mod:`.matmul` runs the input
   projections of all steps through oneDNN, the library behind ``torch.nn.LSTM``'s own CPU
   layer. The compiled loops' per-step recurrent products use :class:`.matmul.Panels`: the
   weight packed once per call, and a small kernel that adds in the order ``torch.mm`` (MKL)
   does, so they give ``torch.mm``'s numbers bit for bit, about twice as fast (chapter 9b
   measures it). Rounding as the reference does matters: a deep float32 HyperLSTM amplifies a
   difference of one rounding error.
7. **Memory used again.** The large buffers of a call come from :data:`.buffers.POOL`, which
   hands out memory of earlier calls once nothing holds it: fresh memory costs a page fault per
   4 KiB page on its first write.

On a GPU the Python loops run; ``FastLSTM.compile_pointwise`` (off by default, and only used on
CUDA) compiles the LSTM's per-step elementwise function with ``torch.compile`` so that it
becomes one kernel (``tools/gpu_check.py`` measures it).

Shapes use ``T`` = n_steps, ``B`` = batch_size, ``N_x`` = input_size, ``N_h`` = hidden_size,
``N_ĥ`` = hyper_size (``N_hat`` in code), ``N_z`` = n_z.
"""

from . import compiled
from .compiled import use_compiled
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

__all__ = ["FastLSTM", "FastHyperLSTM", "LSTMLayerFunction", "lstm_pointwise", "tanh_",
           "PackedHyperCell", "hyper_layer", "WeightTape", "HyperLayerFunction", "layer_norm_dx",
           "cell_update", "sigmoid_grad", "Workspace", "compiled", "use_compiled"]
