r"""Hypernetworks: a small network that generates the weights of a larger one (Ha, Dai & Le,
2016).

Two things live here, both used by the book's chapter 6:

- A **static** hypernetwork (the paper's hypernetwork for convolutional networks):
  :class:`KernelHyperNetwork` generates every convolution kernel of :class:`HyperCNN` from a
  learned layer embedding :math:`z_j`; the same generator serves every layer, so the kernels are
  tied through it. :class:`PlainCNN` is the same network with ordinary kernels, and :func:`bars`
  a tiny image task (which way a bar points) to train both on.
- The **dynamic weight** of the paper's general hypernetwork,
  :math:`W_h(z) = \mathcal{W}_h \times_3 z` with the 3-d tensor
  :math:`\mathcal{W}_h \in \mathbb{R}^{N_h \times N_h \times N_z}` (:func:`explicit_weight`,
  :func:`explicit_matvec`), against the row scaling :math:`W_h(z) = \mathrm{diag}(W_{hz} z)\, W_h`
  that the HyperLSTM uses (:func:`row_scaling_matvec`, which never builds :math:`W_h(z)`), and the
  tensor that row scaling stands for (:func:`weight_tensor_from_row_scaling`).

What the two ways to compute :math:`W_h(z) h` cost (parameters, memory, time) is measured in
:mod:`lstm_edu.analysis.matvec_costs`: the models hold no timing code.

Notation: :math:`N_h` (``n_h``) the size of :math:`h`, :math:`N_z` (``n_z``) the size of the
embedding :math:`z`, :math:`B` the batch size; in code ``w_tensor`` is :math:`\mathcal{W}_h`,
``w_h`` the fixed matrix :math:`W_h` and ``w_hz`` the map :math:`W_{hz}` from :math:`z` to the
scaling vector :math:`d = W_{hz} z`.
"""

from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from .checks import check_size

# ---------------------------------------------------------------------------------------------
# A static hypernetwork: convolution kernels generated from layer embeddings.
# ---------------------------------------------------------------------------------------------

class KernelHyperNetwork(nn.Module):
    r"""Generates one convolution kernel from a layer embedding :math:`z_j` (the paper's
    two-layer generator).

    Two linear layers. The first turns :math:`z_j` into one vector :math:`a_i` per input channel,
    the second turns each :math:`a_i` into that input channel's slice of the kernel:

    .. math::
        a_i = W_i z_j + B_i, \quad i = 1 \dots C_{in} \qquad
        K_j^i = \langle W_{out}, a_i \rangle + B_{out}

    and :math:`K_j` is the :math:`C_{in}` slices side by side.

    Args:
        channels: input and output channels of every generated kernel (:math:`C`).
        kernel_size: the kernel's height and width (:math:`k`).
        n_z: size of a layer embedding (:math:`N_z`).
        d: size of each :math:`a_i`.

    Shapes: ``forward(z [N_z]) -> K [C, C, k, k]`` (``[C_out, C_in, k, k]``, as ``F.conv2d`` wants).
    """

    def __init__(self, channels: int, kernel_size: int, n_z: int, d: int):
        super().__init__()
        self.channels = check_size("channels", channels)
        self.kernel_size = check_size("kernel_size", kernel_size)
        self.n_z = check_size("n_z", n_z)
        self.d = check_size("d", d)
        self.w_in = nn.Linear(n_z, channels * d)  # W_i and B_i for all C_in input channels
        self.w_out = nn.Linear(d, channels * kernel_size * kernel_size)  # W_out and B_out, shared
        # He-style scale for the generated kernels: fan_in = C k^2, |a_i| about 1
        with torch.no_grad():
            nn.init.normal_(self.w_in.weight, 0.0, 1.0 / math.sqrt(n_z))
            self.w_in.bias.zero_()
            std = math.sqrt(2.0 / (channels * kernel_size ** 2)) / math.sqrt(d)
            nn.init.normal_(self.w_out.weight, 0.0, std)
            self.w_out.bias.zero_()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape != (self.n_z,):
            raise ValueError(f"z must be one layer embedding of shape [{self.n_z}], "
                             f"got {list(z.shape)}")
        c, k = self.channels, self.kernel_size
        a = self.w_in(z).view(c, self.d)  # a_i for every input channel i: [C_in, d]
        kernel = self.w_out(a)  # K_j^i: [C_in, C_out k k]
        return kernel.view(c, c, k, k).transpose(0, 1)  # [C_out, C_in, k, k]


class HyperCNN(nn.Module):
    r"""A small CNN whose ``n_layers`` middle convolutions get their kernels from a hypernetwork.

    ``stem`` (an ordinary ``Conv2d(in_channels, channels, 3)``) → ``n_layers`` residual
    blocks ``h + relu(conv2d(h, K_j))`` with :math:`K_j` = ``hyper(z[j])`` → global max pool →
    ``head``.
    The layer embeddings ``z`` (``[n_layers, N_z]``) are learned with everything else.

    Shapes: ``forward(x [B, in_channels, S, S]) -> logits [B, n_classes]``.
    """

    def __init__(self, in_channels: int, channels: int, n_layers: int, n_classes: int,
                 n_z: int = 4, d: int = 4, kernel_size: int = 3):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, channels, kernel_size, padding=kernel_size // 2)
        # one z_j per layer
        self.z = nn.Parameter(torch.randn(check_size("n_layers", n_layers), n_z))
        self.hyper = KernelHyperNetwork(channels, kernel_size, n_z, d)
        self.head = nn.Linear(channels, check_size("n_classes", n_classes))

    def kernels(self) -> List[torch.Tensor]:
        """The generated kernels :math:`K_j`, one ``[C, C, k, k]`` tensor per layer."""
        return [self.hyper(z_j) for z_j in self.z]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.stem(x))  # [B, C, S, S]
        for kernel in self.kernels():
            # residual: [B, C, S, S]
            h = h + F.relu(F.conv2d(h, kernel, padding=kernel.shape[-1] // 2))
        return self.head(h.amax(dim=(2, 3)))  # [B, n_classes]


class PlainCNN(nn.Module):
    """:class:`HyperCNN` with ordinary, independently learned kernels (the baseline).

    Shapes: ``forward(x [B, in_channels, S, S]) -> logits [B, n_classes]``.
    """

    def __init__(self, in_channels: int, channels: int, n_layers: int, n_classes: int,
                 kernel_size: int = 3):
        super().__init__()
        pad = kernel_size // 2
        self.stem = nn.Conv2d(in_channels, channels, kernel_size, padding=pad)
        self.convs = nn.ModuleList([
            nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
            for _ in range(check_size("n_layers", n_layers))])
        self.head = nn.Linear(channels, check_size("n_classes", n_classes))

    def kernels(self) -> List[torch.Tensor]:
        return [conv.weight for conv in self.convs]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.stem(x))
        for conv in self.convs:
            h = h + F.relu(conv(h))  # residual, as in HyperCNN
        return self.head(h.amax(dim=(2, 3)))


BAR_CLASSES = ("horizontal", "vertical", "diagonal \\", "diagonal /")


def bars(n: int, size: int = 12, length: int = 5, noise: float = 0.3,
         generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """A toy image task: each image holds one bar of ``length`` pixels at a random place plus noise.

    The label says which way the bar points, one of :data:`BAR_CLASSES`.

    Returns ``(images [n, 1, size, size], labels [n])``.
    """
    check_size("n", n)
    if length > size:
        raise ValueError(f"length ({length}) must be at most size ({size})")
    g = generator
    labels = torch.randint(0, 4, (n,), generator=g)
    images = noise * torch.randn(n, 1, size, size, generator=g)
    starts = torch.randint(0, size - length + 1, (n, 2), generator=g)
    steps = torch.arange(length)
    for b in range(n):
        r, c = starts[b].tolist()
        label = int(labels[b])
        if label == 0:  # horizontal: fixed row, columns run
            rows, cols = torch.full_like(steps, r), c + steps
        elif label == 1:  # vertical
            rows, cols = r + steps, torch.full_like(steps, c)
        elif label == 2:  # "\": both grow
            rows, cols = r + steps, c + steps
        else:  # "/": rows grow, columns shrink
            rows, cols = r + steps, c + length - 1 - steps
        images[b, 0, rows, cols] += 1.0
    return images, labels


# ---------------------------------------------------------------------------------------------
# The dynamic weight W_h(z): built from the 3-d tensor, or applied by row scaling.
# ---------------------------------------------------------------------------------------------

def explicit_weight(w_tensor: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    r"""The dynamic weight :math:`W_h(z) = \mathcal{W}_h \times_3 z`, built explicitly, one per
    example: :math:`W_h(z)_{ij} = \sum_m (\mathcal{W}_h)_{ijm} z_m`.

    Shapes: ``w_tensor`` (:math:`\mathcal{W}_h`) ``[N_out, N_in, N_z]``, ``z [B, N_z]``
    -> ``[B, N_out, N_in]``.
    Memory: :math:`B N_{out} N_{in}` numbers for :math:`W_h(z)` and :math:`N_{out} N_{in} N_z`
    parameters.
    """
    if w_tensor.dim() != 3 or z.dim() != 2 or z.shape[1] != w_tensor.shape[2]:
        raise ValueError(f"w_tensor must be [N_out, N_in, N_z] and z [batch_size, N_z], "
                         f"got {list(w_tensor.shape)} and {list(z.shape)}")
    # W_h(z)_ij = Σ_m W_ijm z_m, for every example b
    return torch.einsum("ijm,bm->bij", w_tensor, z)


def explicit_matvec(w_tensor: torch.Tensor, z: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """:math:`W_h(z) h` with :math:`W_h(z)` built explicitly: ``[B, N_out]`` from
    ``h [B, N_in]``."""
    w_h_z = explicit_weight(w_tensor, z)  # W_h(z): [B, N_out, N_in]
    return torch.bmm(w_h_z, h.unsqueeze(-1)).squeeze(-1)


def row_scaling_matvec(w_h: torch.Tensor, w_hz: torch.Tensor, z: torch.Tensor,
                       h: torch.Tensor) -> torch.Tensor:
    r""":math:`W_h(z) h = d \odot (W_h h)` with :math:`d = W_{hz} z`; :math:`W_h(z)` is never
    built.

    Shapes: ``w_h`` (:math:`W_h`) ``[N_out, N_in]``, ``w_hz`` (:math:`W_{hz}`) ``[N_out, N_z]``,
    ``z [B, N_z]``, ``h [B, N_in]`` -> ``[B, N_out]``.
    """
    # d = W_hz z: the scaling vector, [B, N_out]
    d = z @ w_hz.T
    # W_h(z) h = diag(d) W_h h = d ⊙ (W_h h): [B, N_out]
    return d * (h @ w_h.T)


def weight_tensor_from_row_scaling(w_h: torch.Tensor, w_hz: torch.Tensor) -> torch.Tensor:
    r"""The 3-d tensor :math:`\mathcal{W}_h` that the row-scaling form implicitly uses.

    Row scaling computes :math:`W_h(z) = \mathrm{diag}(d)\, W_h` with :math:`d = W_{hz} z`, i.e.
    :math:`W_h(z)_{ij} = \sum_m (W_{hz})_{im} z_m (W_h)_{ij}`, so
    :math:`(\mathcal{W}_h)_{ijm} = (W_{hz})_{im} (W_h)_{ij}`.

    Shapes: ``w_h [N_out, N_in]``, ``w_hz [N_out, N_z]`` -> ``w_tensor [N_out, N_in, N_z]``.
    """
    if w_h.dim() != 2 or w_hz.dim() != 2 or w_h.shape[0] != w_hz.shape[0]:
        raise ValueError(f"w_h must be [N_out, N_in] and w_hz [N_out, N_z] with the same N_out, "
                         f"got {list(w_h.shape)} and {list(w_hz.shape)}")
    # 𝒲_ijm = (W_hz)_im (W_h)_ij
    return w_hz[:, None, :] * w_h[:, :, None]


__all__ = [
    "BAR_CLASSES",
    "HyperCNN",
    "KernelHyperNetwork",
    "PlainCNN",
    "bars",
    "explicit_matvec",
    "explicit_weight",
    "row_scaling_matvec",
    "weight_tensor_from_row_scaling",
]
