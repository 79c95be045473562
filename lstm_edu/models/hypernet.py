r"""Hypernetworks: a small network that generates the weights of a larger one (Ha, Dai & Le, 2016).

A **static** hypernetwork (the paper's hypernetwork for convolutional networks), used by the
book's chapter 6: :class:`KernelHyperNetwork` generates every convolution kernel of
:class:`HyperCNN` from a learned layer embedding :math:`z_j`; the same generator serves every
layer, so the kernels are tied through it. :class:`PlainCNN` is the same network with ordinary
kernels, and :func:`bars` a tiny image task (which way a bar points) to train both on.

What a *dynamic* weight costs, computed explicitly or by row scaling, is measured in
:mod:`lstm_edu.analysis.matvec_costs`.

Notation: :math:`N_z` (``n_z``) the size of a layer embedding :math:`z_j`, :math:`C` the channels,
:math:`k` the kernel size, :math:`B` the batch size.
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
    r"""Generates one convolution kernel from a layer embedding :math:`z_j` (the paper's two-layer
    generator).

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
        # one z_j per layer: [n_layers, N_z]
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


__all__ = [
    "BAR_CLASSES",
    "HyperCNN",
    "KernelHyperNetwork",
    "PlainCNN",
    "bars",
]
