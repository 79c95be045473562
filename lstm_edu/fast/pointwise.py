"""Shared pieces of the fast versions: fused elementwise steps, their derivatives, and the
reused scratch buffers of the hand-written backward passes."""

from __future__ import annotations

from typing import Optional

import torch

from .buffers import POOL


def lstm_pointwise(act: torch.Tensor, c_prev: torch.Tensor, c_out: torch.Tensor,
                   h_out: torch.Tensor) -> None:
    r"""The elementwise part of one LSTM step, in place.

    .. math::
        c_t = \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g), \qquad
        h_t = \sigma(o) \odot \tanh(c_t)

    ``act [B, 4N_h]`` holds the pre-activations ``i, f, 2g, o`` on entry (the ``g`` quarter doubled:
    see below) and :math:`\sigma(i), \sigma(f), \tanh(g), \sigma(o)` on return (kept for the
    backward pass);
    ``c_t`` is written into ``c_out`` and ``h_t`` into ``h_out`` (``[B, N_h]``, rows of the
    layer's ``[T, B, N_h]`` buffers, so nothing has to be stacked afterwards). Working in place,
    it cannot be differentiated by autograd: it runs inside :class:`LSTMLayerFunction`, whose
    backward is written by hand.

    ``tanh`` is computed as :math:`\tanh(x) = 2\sigma(2x) - 1`: on the CPU builds of PyTorch we
    measured, ``torch.tanh`` of a small tensor takes several times as long as ``torch.sigmoid``
    (chapter 9 measures it), and with the ``g`` pre-activation doubled one ``sigmoid`` call covers
    all four gates.
    """
    N_h = c_prev.shape[-1]
    act.sigmoid_()  # σ(i), σ(f), σ(2g), σ(o)
    act[:, 2 * N_h:3 * N_h].mul_(2).sub_(1)  # tanh(g) = 2σ(2g) - 1
    i, f, g, o = act.chunk(4, dim=1)  # [B, N_h] each
    torch.mul(f, c_prev, out=c_out).addcmul_(i, g)  # c_t = f ⊙ c_{t-1} + i ⊙ g
    tanh_(h_out.copy_(c_out)).mul_(o)  # h_t = o ⊙ tanh(c_t)


def tanh_(x: torch.Tensor) -> torch.Tensor:
    r"""``tanh`` in place, as :math:`2\sigma(2x) - 1` (faster than ``torch.tanh`` on the CPU; see
    :func:`lstm_pointwise`). Returns ``x``."""
    return x.mul_(2).sigmoid_().mul_(2).sub_(1)



# torch.native_layer_norm(x, shape, w, b, eps) -> (y, mean, rstd) is the one-call kernel behind
# F.layer_norm, and this is its backward: (dy, x, shape, mean, rstd, w, b, mask) -> (dx, dw, db),
# computing only what ``mask`` asks for. One call per layer norm and step, and the same arithmetic
# as autograd's, so the hand-written backward rounds like the reference.
_layer_norm_backward = torch.ops.aten.native_layer_norm_backward
_DX_ONLY = [True, False, False]


def layer_norm_dx(dy: torch.Tensor, x: torch.Tensor, mean: torch.Tensor, rstd: torch.Tensor,
                  weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    r"""Gradient of ``LN(x) = weight ⊙ (x - mean) · rstd + bias`` (over the last axis) with
    respect to ``x``:

    .. math::
        dx = \mathrm{rstd}\,\big(\hat{dy} - \mathrm{mean}(\hat{dy})
            - \hat{x}\,\mathrm{mean}(\hat{dy} \odot \hat{x})\big), \qquad
        \hat{dy} = dy \odot \mathrm{weight},\ \hat{x} = (x - \mathrm{mean})\,\mathrm{rstd}

    ``mean`` and ``rstd`` (``[..., 1]``) as ``torch.native_layer_norm`` returned them in the
    forward pass.
    """
    return _layer_norm_backward(dy, x, x.shape[-1:], mean, rstd, weight, None, _DX_ONLY)[0]


def cell_update(act: torch.Tensor, c_prev: torch.Tensor, c_out: torch.Tensor,
                dim: int) -> torch.Tensor:
    r"""The LSTM update of one step, in place: ``act`` holds the (layer-normalised)
    pre-activations :math:`i, f, g, o` along axis ``dim`` on entry and
    :math:`\sigma(i), \sigma(f), \tanh(g), \sigma(o)` on return;
    :math:`c_t = \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g)` is written into ``c_out``.
    Returns the view :math:`\sigma(o)`.

    Here ``torch.tanh`` is used, not :func:`tanh_`: after a layer norm the pre-activations are
    near 0, where :math:`2\sigma(2x) - 1` loses relative precision, and over three HyperLSTM
    layers the float32 gradients then drift past the tests' 1e-5 from the reference's."""
    act.narrow(dim, 2, 1).tanh_()  # tanh(g)
    act.narrow(dim, 0, 2).sigmoid_()  # σ(i), σ(f)
    act.narrow(dim, 3, 1).sigmoid_()  # σ(o)
    i, f, g, o = act.unbind(dim)
    torch.mul(f, c_prev, out=c_out).addcmul_(i, g)
    return o


def sigmoid_grad(s: torch.Tensor) -> torch.Tensor:
    r""":math:`\sigma'(a) = \sigma(a)(1 - \sigma(a))` from :math:`s = \sigma(a)`
    (as ``s - s·s``)."""
    return torch.addcmul(s, s, s, value=-1)



class Workspace:
    """Named scratch buffers of a backward pass, each big enough for a chunk of ``chunk`` steps
    and reused from one chunk to the next: ``ws(name, *shape)`` is a contiguous view of the first
    ``prod(shape)`` numbers of buffer ``name``. (Memory written for the first time costs a page
    fault per 4 KiB page on a CPU: reusing a buffer is faster than allocating a new one. The
    buffers themselves come from :data:`~lstm_edu.fast.buffers.POOL`, so a later backward pass
    uses the same memory again.)"""

    def __init__(self, like: torch.Tensor, chunk: int):
        self.like, self.chunk, self.buffers = like, chunk, {}

    def __call__(self, name: str, *shape: int) -> torch.Tensor:
        numel = 1
        for size in shape:
            numel *= size
        buf = self.buffers.get(name)
        if buf is None or buf.numel() < numel:
            buf = self.buffers[name] = POOL.empty(self.like, numel)
        return buf[:numel].view(shape)

