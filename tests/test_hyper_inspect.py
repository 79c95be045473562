"""lstm_edu.analysis.hyper_inspect: recorded d(z) and c_t, weight-change measures, histograms."""

import math

import pytest
import torch
from torch import nn

from lstm_edu import LSTM, HyperLSTM
from lstm_edu.analysis import hyper_inspect as hi

N_x, H, HY, NZ, B, T = 5, 7, 4, 3, 3, 6


@pytest.fixture
def hyper(randomise):
    return randomise(HyperLSTM(N_x, H, HY, NZ, 2))


@pytest.fixture
def hyper_without_forget_bias(randomise):  # for the equations written without it
    return randomise(HyperLSTM(N_x, H, HY, NZ, 2, forget_bias=0.0))


def test_trace_agrees_with_forward(hyper):
    x = torch.randn(T, B, N_x)
    out, (h, c, h_hat, c_hat) = hyper(x)
    tr = hi.trace_hyper_lstm(hyper, x)
    assert tr.d_h.shape == tr.d_x.shape == tr.d_b.shape == (T, 2, 4, B, H)
    assert tr.c.shape == tr.h.shape == tr.tanh_c.shape == (T, 2, B, H)
    assert tr.h_hat.shape == (T, 2, B, HY)
    torch.testing.assert_close(tr.h[:, -1], out.detach())
    torch.testing.assert_close(tr.c[-1], c.detach())
    torch.testing.assert_close(tr.h_hat[-1], h_hat.detach())


def test_recorded_d_reproduce_the_cell_state(hyper_without_forget_bias):
    """Rebuild c_t from the recorded d's with the paper's equations: the d's must be the ones
    used."""
    hyper = hyper_without_forget_bias
    x = torch.randn(T, B, N_x)
    tr = hi.trace_hyper_lstm(hyper, x)
    with torch.no_grad():
        for layer, cell in enumerate(hyper.cells):
            h_prev, c_prev = torch.zeros(B, H), torch.zeros(B, H)
            for t in range(T):
                inp = x[t] if layer == 0 else tr.h[t, layer - 1]
                pre = []
                for k in range(4):
                    # diag(d_h) W_hd, built explicitly
                    w_h = tr.d_h[t, layer, k][:, :, None] * cell.w_h[k]
                    w_x = tr.d_x[t, layer, k][:, :, None] * cell.w_x[k]
                    y = ((w_h @ h_prev[:, :, None]).squeeze(-1)
                         + (w_x @ inp[:, :, None]).squeeze(-1) + tr.d_b[t, layer, k])
                    pre.append(cell.layer_norm[k](y))
                i, f, g, o = pre
                c_prev = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
                h_prev = torch.sigmoid(o) * torch.tanh(cell.layer_norm_c(c_prev))
                torch.testing.assert_close(tr.c[t, layer], c_prev, atol=1e-5, rtol=1e-4)
                torch.testing.assert_close(tr.tanh_c[t, layer],
                                           torch.tanh(cell.layer_norm_c(c_prev)), atol=1e-5,
                                           rtol=1e-4)


def test_trace_lstm_agrees_with_forward(randomise):
    m = randomise(LSTM(N_x, H, 2), seed=3)
    x = torch.randn(T, B, N_x)
    out, (h, c) = m(x)
    tr = hi.trace_lstm(m, x)
    assert tr.c.shape == (T, 2, B, H)
    torch.testing.assert_close(tr.h[:, -1], out.detach())
    torch.testing.assert_close(tr.c[-1], c.detach())
    torch.testing.assert_close(tr.tanh_c, torch.tanh(tr.c))  # no layer norm in the plain LSTM


def test_trace_rejects_empty_and_wrong_models(hyper):
    with pytest.raises(ValueError, match="no steps"):
        hi.trace_hyper_lstm(hyper, torch.randn(0, B, N_x))
    with pytest.raises(TypeError, match="HyperLSTM"):
        hi.trace_hyper_lstm(nn.Linear(3, 3), torch.randn(T, B, 3))
    with pytest.raises(ValueError, match="input_size"):
        hi.trace_hyper_lstm(hyper, torch.randn(T, B, N_x + 1))


def test_drop_in_copy_gives_the_same_trace(hyper):
    class DropIn(nn.Module):  # same sizes and parameter names, another class
        def __init__(self, ref):
            super().__init__()
            self.input_size, self.hidden_size, self.hyper_size = N_x, H, HY
            self.n_z, self.n_layers = NZ, 2
            self.cells = ref.cells

    x = torch.randn(T, B, N_x)
    a, b = hi.trace_hyper_lstm(hyper, x), hi.trace_hyper_lstm(DropIn(hyper), x)
    torch.testing.assert_close(a.d_h, b.d_h)


def test_d_change():
    d = torch.tensor([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0]])
    out = hi.d_change(d)
    assert math.isnan(out[0])
    assert out[1:].tolist() == [5.0, 0.0]
    with pytest.raises(ValueError):
        hi.d_change(torch.zeros(3))


def test_weight_change_equals_explicit_frobenius_norm():
    torch.manual_seed(0)
    d = torch.randn(T, B, H)
    w = torch.randn(H, N_x)
    got = hi.weight_change(d, w)
    assert got.shape == (T, B)
    assert torch.isnan(got[0]).all()
    for t in range(1, T):
        for b in range(B):
            explicit = torch.diag(d[t, b]) @ w - torch.diag(d[t - 1, b]) @ w
            assert got[t, b].item() == pytest.approx(torch.linalg.norm(explicit).item(), rel=1e-5)
    with pytest.raises(ValueError, match="same N_h"):
        hi.weight_change(d, torch.randn(H + 1, N_x))


def test_gate_weight_changes(hyper):
    tr = hi.trace_hyper_lstm(hyper, torch.randn(T, B, N_x))
    ch = hi.gate_weight_changes(hyper, tr, which="h", batch_index=1)
    assert ch.shape == (T, 2, 4)
    # layer 1, gate g, sequence 1
    want = hi.weight_change(tr.d_h[:, 1, 2, 1], hyper.cells[1].w_h[2])
    torch.testing.assert_close(ch[1:, 1, 2], want[1:])
    assert (ch[1:] > 0).all()
    with pytest.raises(ValueError):
        hi.gate_weight_changes(hyper, tr, which="b")


def test_zero_w_means_zero_weight_change(randomise):
    m = randomise(HyperLSTM(N_x, H, HY, NZ, 1), seed=5)
    with torch.no_grad():  # labml's init of W_hd, W_xd (zeros): diag(d) W_hd never changes
        for w in list(m.cells[0].w_h) + list(m.cells[0].w_x):
            w.zero_()
    tr = hi.trace_hyper_lstm(m, torch.randn(T, 1, N_x))
    ch = hi.gate_weight_changes(m, tr)
    assert (ch[1:] == 0).all()
    assert (hi.d_change(tr.d_h)[1:] > 0).any()  # while d itself does move


def test_saturation_histogram_and_fraction():
    v = torch.tensor([-0.99, -0.95, 0.0, 0.5, 0.97, 1.0])
    dens, edges = hi.saturation_histogram(v, bins=4)
    assert edges.tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert (dens * 0.5).sum().item() == pytest.approx(1.0)
    assert (dens * 0.5).tolist() == pytest.approx([2 / 6, 0.0, 1 / 6, 3 / 6])
    assert hi.saturation_fraction(v, 0.9) == pytest.approx(4 / 6)
    with pytest.raises(ValueError):
        hi.saturation_fraction(v, 1.5)
    with pytest.raises(ValueError):
        hi.saturation_histogram(torch.zeros(0))


def test_trace_of_the_fast_drop_in_agrees_with_its_forward(randomise):
    fast = pytest.importorskip("lstm_edu.fast")
    m = randomise(fast.FastHyperLSTM(N_x, H, HY, NZ, 2), seed=7)
    x = torch.randn(T, B, N_x)
    out, (h, c, h_hat, c_hat) = m(x)
    tr = hi.trace_hyper_lstm(m, x)  # steps through the reference cells the subclass keeps
    torch.testing.assert_close(tr.h[:, -1], out.detach(), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(tr.c[-1], c.detach(), atol=1e-5, rtol=1e-4)
    lstm = randomise(fast.FastLSTM(N_x, H, 2), seed=8)
    out, (h, c) = lstm(x)
    torch.testing.assert_close(hi.trace_lstm(lstm, x).h[:, -1], out.detach(), atol=1e-5, rtol=1e-4)
