r"""What a dynamic weight costs: :math:`W_h(z) h` built explicitly against row scaling (chapter 6).

The two ways to compute a generated weight's product :math:`W_h(z) h`:
:func:`lstm_edu.models.hypernet.explicit_matvec` builds :math:`W_h(z) = \mathcal{W}_h \times_3 z`
for every example, :func:`lstm_edu.models.hypernet.row_scaling_matvec` computes
:math:`d \odot (W_h h)` with :math:`d = W_{hz} z` and never builds it.
:func:`matvec_param_counts` counts the parameters of each, :func:`matvec_costs` measures
parameters, memory kept for the backward pass and time at one size.

Notation: :math:`N_h` (``n_h``) the size of :math:`h`, :math:`N_z` (``n_z``) the size of the
embedding :math:`z`, :math:`B` the batch size; in code ``w_tensor`` is :math:`\mathcal{W}_h`,
``w_h`` the fixed matrix :math:`W_h` and ``w_hz`` the map :math:`W_{hz}`.
"""

from __future__ import annotations

import math
from typing import Dict, Optional

import torch

from ..measure import saved_bytes, time_call
from ..models.checks import check_size
from ..models.hypernet import explicit_matvec, row_scaling_matvec, weight_tensor_from_row_scaling


def matvec_param_counts(n_h: int, n_z: int) -> Dict[str, int]:
    r"""Parameters needed to generate one :math:`N_h \times N_h` dynamic weight from :math:`z`.

    - explicit: :math:`\mathcal{W}_h`, :math:`N_h \cdot N_h \cdot N_z`;
    - row scaling: :math:`W_h` (:math:`N_h \cdot N_h`) and :math:`W_{hz}` (:math:`N_h \cdot N_z`).
    """
    check_size("n_h", n_h)
    check_size("n_z", n_z)
    return {"explicit": n_h * n_h * n_z, "row_scaling": n_h * n_h + n_h * n_z}


def matvec_costs(n_h: int, n_z: int, batch_size: int, repeats: int = 3,
                 device: Optional[torch.device] = None, seed: int = 0) -> Dict[str, float]:
    r"""Measure :math:`W_h(z) h` computed both ways for one size: parameters, memory and time.

    Builds random :math:`W_h` ``[N_h, N_h]``, :math:`W_{hz}` ``[N_h, N_z]`` and the equivalent
    :math:`\mathcal{W}_h` ``[N_h, N_h, N_z]`` (so both forms compute the same numbers), a batch of
    ``z [B, N_z]`` and ``h [B, N_h]``, and times forward + backward of each form.

    Returns a dict with, for ``form`` in ``explicit`` and ``row_scaling``: ``{form}_params``
    (count), ``{form}_param_bytes``, ``{form}_saved_bytes`` (activation memory held for backward,
    see :func:`lstm_edu.measure.saved_bytes`), ``{form}_seconds`` (one forward + backward, see
    :func:`lstm_edu.measure.time_call`), and ``max_abs_diff`` between the two results.
    """
    device = torch.device("cpu") if device is None else torch.device(device)
    g = torch.Generator().manual_seed(seed)
    w_h = (torch.randn(n_h, n_h, generator=g) / math.sqrt(n_h)).to(device).requires_grad_()
    w_hz = (torch.randn(n_h, n_z, generator=g) / math.sqrt(n_z)).to(device).requires_grad_()
    w_tensor = weight_tensor_from_row_scaling(w_h.detach(), w_hz.detach()).requires_grad_()
    z = torch.randn(batch_size, n_z, generator=g).to(device)
    h = torch.randn(batch_size, n_h, generator=g).to(device).requires_grad_()

    def explicit() -> torch.Tensor:
        return explicit_matvec(w_tensor, z, h)

    def row_scaling() -> torch.Tensor:
        return row_scaling_matvec(w_h, w_hz, z, h)

    out: Dict[str, float] = {}
    with torch.no_grad():
        out["max_abs_diff"] = (explicit() - row_scaling()).abs().max().item()
    forms = (("explicit", explicit, [w_tensor]), ("row_scaling", row_scaling, [w_h, w_hz]))
    for name, fn, params in forms:
        out[f"{name}_params"] = sum(p.numel() for p in params)
        out[f"{name}_param_bytes"] = sum(p.numel() * p.element_size() for p in params)
        out[f"{name}_saved_bytes"] = saved_bytes(fn, exclude=params + [h, z])
        out[f"{name}_seconds"] = time_call(lambda: fn().sum().backward(), repeats=repeats,
                                           device=device)
    return out


__all__ = ["matvec_param_counts", "matvec_costs"]
