"""The reference LSTM against torch.nn.LSTM, and its contracts (shapes, state, errors)."""

import pytest
import torch
from torch import nn

from lstm_edu import LSTM, LSTMCell

N_x, H, B, T = 6, 5, 3, 7


def _pair(n_layers, seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    ref = nn.LSTM(N_x, H, n_layers).to(dtype)
    return ref, LSTM.from_torch(ref)


def _grads(module):
    return {n: p.grad.clone() for n, p in module.named_parameters()}


@pytest.mark.parametrize("n_layers", [1, 3])
@pytest.mark.parametrize("with_state", [False, True])
def test_matches_torch_forward_and_backward(n_layers, with_state):
    ref, ours = _pair(n_layers)
    x = torch.randn(T, B, N_x, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    state = (torch.randn(n_layers, B, H), torch.randn(n_layers, B, H)) if with_state else None
    out_r, (h_r, c_r) = ref(x, state)
    out_o, (h_o, c_o) = ours(x2, state)
    for a, b in ((out_r, out_o), (h_r, h_o), (c_r, c_o)):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    # the same loss through both: gradients w.r.t. input and every weight agree
    w = torch.randn_like(out_r)
    ((out_r * w).sum() + h_r.sum() + c_r.square().sum()).backward()
    ((out_o * w).sum() + h_o.sum() + c_o.square().sum()).backward()
    torch.testing.assert_close(x.grad, x2.grad, atol=1e-6, rtol=1e-5)
    for layer, cell in enumerate(ours.cells):
        torch.testing.assert_close(cell.lin_x.weight.grad, getattr(ref, f"weight_ih_l{layer}").grad,
                                   atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(cell.lin_h.weight.grad, getattr(ref, f"weight_hh_l{layer}").grad,
                                   atol=1e-6, rtol=1e-5)
        # lin_h.bias stands for bias_ih + bias_hh, so its gradient equals each of theirs
        torch.testing.assert_close(cell.lin_h.bias.grad, getattr(ref, f"bias_hh_l{layer}").grad,
                                   atol=1e-6, rtol=1e-5)


def test_to_torch_round_trip():
    torch.manual_seed(1)
    ours = LSTM(N_x, H, 2)
    back = ours.to_torch()
    x = torch.randn(T, B, N_x)
    torch.testing.assert_close(ours(x)[0], back(x)[0], atol=1e-6, rtol=1e-5)
    again = LSTM.from_torch(back)
    for (n1, p1), (n2, p2) in zip(ours.named_parameters(), again.named_parameters()):
        assert n1 == n2
        torch.testing.assert_close(p1, p2)


def test_from_torch_without_bias_and_rejections():
    torch.manual_seed(2)
    ref = nn.LSTM(N_x, H, 1, bias=False)
    x = torch.randn(T, B, N_x)
    torch.testing.assert_close(LSTM.from_torch(ref)(x)[0], ref(x)[0], atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="bidirectional=True"):
        LSTM.from_torch(nn.LSTM(N_x, H, 1, bidirectional=True))
    with pytest.raises(ValueError, match="proj_size=2"):
        LSTM.from_torch(nn.LSTM(N_x, H, 1, proj_size=2))
    with pytest.raises(ValueError, match="dropout=0.5"):
        LSTM.from_torch(nn.LSTM(N_x, H, 2, dropout=0.5))
    with pytest.raises(TypeError, match="expects a torch.nn.LSTM, got GRU"):
        LSTM.from_torch(nn.GRU(N_x, H))


@pytest.mark.parametrize("layer_norm", [False, True])
def test_cell_gradcheck_float64(layer_norm):
    torch.manual_seed(3)
    cell = LSTMCell(N_x, H, layer_norm=layer_norm).double()
    x, h, c = (torch.randn(2, n, dtype=torch.float64, requires_grad=True) for n in (N_x, H, H))
    assert torch.autograd.gradcheck(lambda x, h, c: cell(x, h, c), (x, h, c))


def test_cell_equations_by_hand():
    """One step computed from the seed's equations with the four gates' maps pulled apart."""
    torch.manual_seed(4)
    cell = LSTMCell(N_x, H)
    x, h, c = torch.randn(B, N_x), torch.randn(B, H), torch.randn(B, H)
    wx = cell.lin_x.weight.split(H)  # lin_x^i, lin_x^f, lin_x^g, lin_x^o
    wh = cell.lin_h.weight.split(H)
    bh = cell.lin_h.bias.split(H)
    i, f, g, o = (x @ wx[k].T + h @ wh[k].T + bh[k] for k in range(4))
    c_want = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_want = torch.sigmoid(o) * torch.tanh(c_want)
    h_got, c_got = cell(x, h, c)
    torch.testing.assert_close(h_got, h_want)
    torch.testing.assert_close(c_got, c_want)


def test_two_chunks_equal_one_run():
    _, ours = _pair(2, seed=5)
    x = torch.randn(T, B, N_x)
    out, state = ours(x)
    out1, s1 = ours(x[:3])
    out2, s2 = ours(x[3:], s1)
    torch.testing.assert_close(torch.cat([out1, out2]), out, atol=1e-6, rtol=1e-5)
    for a, b in zip(s2, state):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_batch_independence_and_causality():
    _, ours = _pair(2, seed=6)
    x = torch.randn(T, B, N_x)
    out = ours(x)[0]
    y = x.clone()
    y[:, 1] += torch.randn(T, N_x)  # change example 1 only
    out_y = ours(y)[0]
    torch.testing.assert_close(out_y[:, 0], out[:, 0])
    torch.testing.assert_close(out_y[:, 2], out[:, 2])
    assert not torch.allclose(out_y[:, 1], out[:, 1])
    z = x.clone()
    z[4:] = torch.randn(T - 4, B, N_x)  # change the future only
    out_z = ours(z)[0]
    torch.testing.assert_close(out_z[:4], out[:4])
    assert not torch.allclose(out_z[4:], out[4:])


def test_unstacked_state_for_one_layer_round_trips():
    _, ours = _pair(1, seed=7)
    x = torch.randn(T, B, N_x)
    h0, c0 = torch.randn(B, H), torch.randn(B, H)
    out, (h, c) = ours(x, (h0, c0))
    assert h.shape == c.shape == (B, H)
    out_s, (h_s, c_s) = ours(x, (h0[None], c0[None]))
    assert h_s.shape == (1, B, H)
    torch.testing.assert_close(out, out_s)
    torch.testing.assert_close(h, h_s[0])
    assert ours(x)[1][0].shape == (1, B, H)  # no state given: stacked, like nn.LSTM


def test_empty_sequence_returns_initial_state():
    ours = LSTM(N_x, H, 2)
    state = (torch.randn(2, B, H), torch.randn(2, B, H))
    out, (h, c) = ours(torch.randn(0, B, N_x), state)
    assert out.shape == (0, B, H)
    torch.testing.assert_close(h, state[0])
    torch.testing.assert_close(c, state[1])
    out, (h, c) = ours(torch.randn(0, B, N_x))
    assert out.shape == (0, B, H) and h.shape == (2, B, H) and bool((h == 0).all())


@pytest.mark.parametrize("x, err, msg", [
    (torch.randn(32, 7), ValueError, r"x must have shape \[n_steps, batch_size, input_size=6\], "
                                     r"got \[32, 7\]"),
    (torch.randn(T, B, 9), ValueError, r"input_size=6\], got \[7, 3, 9\]"),
    (torch.randn(1, T, B, N_x), ValueError, r"got \[1, 7, 3, 6\]"),
    (torch.ones(T, B, N_x, dtype=torch.long), TypeError, r"floating-point tensor, got dtype "
                                                       r"torch.int64"),
    (torch.randn(T, B, N_x, dtype=torch.float64), TypeError,
     r"x has dtype torch.float64 but the module's parameters are torch.float32"),
    ([[1.0]], TypeError, r"x must be a torch.Tensor, got list"),
])
def test_bad_input_errors(x, err, msg):
    with pytest.raises(err, match=msg):
        LSTM(N_x, H, 2)(x)


@pytest.mark.parametrize("state, err, msg", [
    (torch.zeros(2, B, H), TypeError, r"state must be a tuple of 2 tensors \(h, c\), got Tensor"),
    ((torch.zeros(2, B, H),), ValueError, r"got 1 tensors"),
    ((torch.zeros(2, B, H),) * 3, ValueError, r"got 3 tensors"),
    ((torch.zeros(B, H), torch.zeros(B, H)), ValueError, r"h must have shape \[n_layers=2, "
                                                         r"batch_size=3, hidden_size=5\], got \[3, "
                                                         r"5\]"),
    ((torch.zeros(2, B + 1, H), torch.zeros(2, B, H)), ValueError, r"h must have shape .*got \[2, "
                                                                   r"4, 5\]"),
    ((torch.zeros(2, B, H), torch.zeros(2, B, H + 1)), ValueError, r"c must have shape "
                                                                   r".*hidden_size=5\], got \[2, "
                                                                   r"3, 6\]"),
])
def test_bad_state_errors(state, err, msg):
    with pytest.raises(err, match=msg):
        LSTM(N_x, H, 2)(torch.randn(T, B, N_x), state)


@pytest.mark.parametrize("args, err, msg", [
    ((0, H, 1), ValueError, "input_size must be a positive int"),
    ((N_x, -1, 1), ValueError, "hidden_size must be a positive int"),
    ((N_x, H, 0), ValueError, "n_layers must be a positive int"),
    ((N_x, 2.5, 1), TypeError, "hidden_size must be a positive int, got float 2.5"),
    ((N_x, H, True), TypeError, "n_layers must be a positive int, got bool"),
])
def test_bad_constructor_sizes(args, err, msg):
    with pytest.raises(err, match=msg):
        LSTM(*args)


def test_cell_bad_step_inputs():
    cell = LSTMCell(N_x, H)
    with pytest.raises(ValueError, match=r"h must have shape \[batch_size=3, hidden_size=5\], got "
                                         r"\[3, 4\]"):
        cell(torch.randn(B, N_x), torch.randn(B, 4), torch.randn(B, H))
    with pytest.raises(ValueError, match=r"x must have shape \[batch_size, input_size=6\], got "
                                         r"\[3, 5\]"):
        cell(torch.randn(B, 5), torch.randn(B, H), torch.randn(B, H))
