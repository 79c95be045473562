"""Tests for lstm_edu.models.hypernet (a static hypernetwork) and row scaling in the HyperLSTM."""

import pytest
import torch

from lstm_edu import HyperLSTMCell, row_scaling_matvec
from lstm_edu.exercises import ch06
from lstm_edu.measure import count_parameters
from lstm_edu.models.hypernet import HyperCNN, KernelHyperNetwork, PlainCNN, bars


def test_kernel_hypernetwork_shapes_and_linearity():
    net = KernelHyperNetwork(channels=6, kernel_size=3, n_z=4, d=5)
    z = torch.randn(4)
    k = net(z)
    assert k.shape == (6, 6, 3, 3)
    # affine in z: K(z1) + K(z2) - K(0) == K(z1 + z2)
    z2 = torch.randn(4)
    torch.testing.assert_close(net(z) + net(z2) - net(torch.zeros(4)), net(z + z2), atol=1e-5,
                               rtol=1e-5)
    with pytest.raises(ValueError, match="layer embedding"):
        net(torch.randn(2, 4))


def test_hyper_cnn_fewer_parameters_and_trains(one_thread):
    torch.manual_seed(1)
    hyper, plain = HyperCNN(1, 8, 3, 4), PlainCNN(1, 8, 3, 4)
    assert count_parameters(hyper) < count_parameters(plain)
    assert [k.shape for k in hyper.kernels()] == [k.shape for k in plain.kernels()]
    g = torch.Generator().manual_seed(0)
    x, y = bars(128, generator=g)
    opt = torch.optim.Adam(hyper.parameters(), 1e-2)
    first = None
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(hyper(x), y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first


def test_bars_labels_match_pictures():
    x, y = bars(64, size=10, length=4, noise=0.0, generator=torch.Generator().manual_seed(0))
    assert x.shape == (64, 1, 10, 10) and y.shape == (64,)
    for img, label in zip(x[:, 0], y):
        rows, cols = torch.nonzero(img > 0.5, as_tuple=True)
        assert len(rows) == 4
        if label == 0:
            assert rows.unique().numel() == 1
        elif label == 1:
            assert cols.unique().numel() == 1
        else:
            assert rows.unique().numel() == 4 and cols.unique().numel() == 4


def test_bars_rejects_long_bar():
    with pytest.raises(ValueError):
        bars(4, size=3, length=5)


def test_row_scaling_matches_cell_weight():
    """d_h ⊙ (W_hd h) from a HyperLSTMCell equals the explicit W_h = diag(d_h) W_hd times h."""
    torch.manual_seed(0)
    cell = HyperLSTMCell(3, 6, 4, 2)
    with torch.no_grad():
        cell.z_h.weight.normal_()
    h_hat = torch.randn(2, 4)
    d_h, _, _ = cell.scaling_vectors(h_hat)
    h = torch.randn(2, 6)
    w_h = d_h[0][:, :, None] * cell.w_h[0]  # [B, N_h, N_h]
    torch.testing.assert_close(torch.bmm(w_h, h[:, :, None])[..., 0], d_h[0] * (h @ cell.w_h[0].T))


def test_row_scaling_function_exported():
    g = torch.Generator().manual_seed(0)
    a, b, z, h = (torch.randn(*s, generator=g) for s in ((4, 4), (4, 2), (3, 2), (3, 4)))
    torch.testing.assert_close(row_scaling_matvec(a, b, z, h),
                               ch06.reference_row_scaling(a, b, z, h))
