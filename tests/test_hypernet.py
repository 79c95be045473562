"""Tests for lstm_edu.models.hypernet (static hypernetwork, cost helpers) and the chapter 6-7 checkers."""

import pytest
import torch

from lstm_edu import HyperLSTMCell, explicit_matvec, row_scaling_matvec, weight_tensor_from_row_scaling
from lstm_edu.exercises import ch06, ch07
from lstm_edu.models.hypernet import (HyperCNN, KernelHyperNetwork, PlainCNN, bars, count_parameters, matvec_costs,
                               matvec_param_counts, saved_bytes, time_call)


def test_kernel_hypernetwork_shapes_and_linearity():
    net = KernelHyperNetwork(channels=6, kernel_size=3, n_z=4, d=5)
    z = torch.randn(4)
    k = net(z)
    assert k.shape == (6, 6, 3, 3)
    # affine in z: K(z1) + K(z2) - K(0) == K(z1 + z2)
    z2 = torch.randn(4)
    torch.testing.assert_close(net(z) + net(z2) - net(torch.zeros(4)), net(z + z2), atol=1e-5, rtol=1e-5)
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


def test_param_counts():
    assert matvec_param_counts(10, 4) == {"explicit": 400, "row_scaling": 140}


def test_matvec_costs_agree_and_save():
    c = matvec_costs(32, 4, 8, repeats=1)
    assert c["max_abs_diff"] < 1e-4
    assert c["explicit_params"] == 32 * 32 * 4 and c["row_scaling_params"] == 32 * 32 + 32 * 4
    # the explicit form keeps a [B, N_h, N_h] weight for backward, row scaling two [B, N_h] vectors
    assert c["explicit_saved_bytes"] >= 8 * 32 * 32 * 4
    assert c["row_scaling_saved_bytes"] <= 4 * 8 * 32 * 4
    assert c["explicit_seconds"] > 0 and c["row_scaling_seconds"] > 0


def test_saved_bytes_excludes_given_tensors():
    w = torch.randn(5, 5, requires_grad=True)
    x = torch.randn(3, 5)
    assert saved_bytes(lambda: x @ w.T, exclude=[w, x]) == 0
    assert saved_bytes(lambda: x @ w.T, exclude=[w]) == x.numel() * 4


def test_time_call_positive():
    assert time_call(lambda: torch.ones(3).sum(), repeats=2) > 0


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


def test_ch06_checker(capsys):
    assert ch06.check_row_scaling(ch06.reference_row_scaling)
    assert not ch06.check_row_scaling(lambda w_hd, w_dz, z, h: h @ w_hd.T)

    def stub(w_hd, w_dz, z, h):
        raise NotImplementedError

    assert not ch06.check_row_scaling(stub)
    assert not ch06.check_row_scaling(lambda w_hd, w_dz, z, h: explicit_matvec(weight_tensor_from_row_scaling(w_hd, w_dz), z, h))
    # an answer that breaks only when its inputs require gradients gets a hint, not a traceback
    assert not ch06.check_row_scaling(
        lambda w_hd, w_dz, z, h: torch.from_numpy((z.numpy() @ w_dz.numpy().T) * (h.numpy() @ w_hd.numpy().T)))
    # a right answer computed in float64 is not mistaken for one that builds W_h
    assert ch06.check_row_scaling(lambda w_hd, w_dz, z, h: (z.double() @ w_dz.double().T) * (h.double() @ w_hd.double().T))
    assert not ch06.check_row_scaling(lambda w_hd, w_dz, z, h: None)
    out = capsys.readouterr().out
    assert "unscaled" in out and "NotImplementedError" in out and "bytes" in out
    assert "require gradients" in out and "NoneType" in out
    assert "Traceback" not in out


def test_ch07_checker(capsys):
    assert ch07.check_hyper_step(ch07.reference_hyper_step)
    assert not ch07.check_hyper_step(lambda *a: ch07.reference_hyper_step(*a, typo=True))
    assert not ch07.check_hyper_step(lambda *a: 1 / 0)
    assert not ch07.check_hyper_step(lambda *a: None)
    assert not ch07.check_hyper_step(lambda *a: (lambda r: (r[1], r[0], r[2], r[3]))(ch07.reference_hyper_step(*a)))
    assert not ch07.check_hyper_step(lambda *a: (lambda r: (r[0], r[1], r[3], r[2]))(ch07.reference_hyper_step(*a)))
    assert not ch07.check_hyper_step(lambda *a: tuple(t[0] for t in ch07.reference_hyper_step(*a)))
    out = capsys.readouterr().out
    assert "typo" in out and "ZeroDivisionError" in out and "tuple" in out
    assert "h and c are swapped" in out and "h_hat and c_hat are swapped" in out and "shape" in out
    assert "Traceback" not in out


def test_row_scaling_function_exported():
    g = torch.Generator().manual_seed(0)
    a, b, z, h = (torch.randn(*s, generator=g) for s in ((4, 4), (4, 2), (3, 2), (3, 4)))
    torch.testing.assert_close(row_scaling_matvec(a, b, z, h), ch06.reference_row_scaling(a, b, z, h))
