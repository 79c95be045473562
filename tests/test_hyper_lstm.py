"""The reference HyperLSTM: the equations, the row-scaling trick, initialisation and contracts."""

import pytest
import torch

from lstm_edu import (
    HyperLSTM,
    HyperLSTMCell,
    explicit_matvec,
    explicit_weight,
    row_scaling_matvec,
    weight_tensor_from_row_scaling,
)

N_x, H, HY, NZ, B, T = 6, 8, 5, 3, 4, 6



def test_shapes_and_state_for_two_layers():
    m = HyperLSTM(N_x, H, HY, NZ, 2)
    out, (h, c, h_hat, c_hat) = m(torch.randn(T, B, N_x))
    assert out.shape == (T, B, H)
    assert h.shape == c.shape == (2, B, H)
    assert h_hat.shape == c_hat.shape == (2, B, HY)
    # layer 1 reads layer 0's h: its hyper cell sees [h_{t-1}; x_t] = 2 * hidden features
    assert m.cells[0].hyper.input_size == H + N_x
    assert m.cells[1].hyper.input_size == 2 * H
    assert m.cells[1].w_x[0].shape == (H, H)


def test_cell_gradcheck_float64(randomise):
    cell = randomise(HyperLSTMCell(3, 4, 3, 2).double(), seed=1)
    args = tuple(torch.randn(2, n, dtype=torch.float64, requires_grad=True)
                 for n in (3, 4, 4, 3, 3))
    assert torch.autograd.gradcheck(lambda *a: cell(*a), args)


def test_cell_follows_the_equations_with_explicit_weights(randomise):
    """Recompute one step from the paper's equations, building each W_h = <W_hz, z_h> explicitly."""
    cell = randomise(HyperLSTMCell(N_x, H, HY, NZ, layer_norm=False, forget_bias=0.0), seed=2)
    x, h, c = torch.randn(B, N_x), torch.randn(B, H), torch.randn(B, H)
    h_hat0, c_hat0 = torch.randn(B, HY), torch.randn(B, HY)
    h_hat, c_hat = cell.hyper(torch.cat([h, x], -1), h_hat0, c_hat0)
    z_h, z_x, z_b = (lin(h_hat).chunk(4, -1) for lin in (cell.z_h, cell.z_x, cell.z_b))
    pre = []
    for k in range(4):
        w_hz = weight_tensor_from_row_scaling(cell.w_h[k], cell.d_h[k].weight)  # [H, H, N_z]
        w_xz = weight_tensor_from_row_scaling(cell.w_x[k], cell.d_x[k].weight)  # [H, I, N_z]
        pre.append(explicit_matvec(w_hz, z_h[k], h) + explicit_matvec(w_xz, z_x[k], x)
                   + cell.d_b[k](z_b[k]))
    i, f, g, o = pre
    c_want = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_want = torch.sigmoid(o) * torch.tanh(c_want)
    h_got, c_got, h_hat_got, c_hat_got = cell(x, h, c, h_hat0, c_hat0)
    torch.testing.assert_close(h_got, h_want, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(c_got, c_want, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(h_hat_got, h_hat)
    torch.testing.assert_close(c_hat_got, c_hat)


def test_explicit_weight_equals_row_scaling():
    torch.manual_seed(3)
    w_hd, w_dz = torch.randn(H, N_x), torch.randn(H, NZ)
    z, h = torch.randn(B, NZ), torch.randn(B, N_x)
    w_hz = weight_tensor_from_row_scaling(w_hd, w_dz)
    assert w_hz.shape == (H, N_x, NZ)
    w_h = explicit_weight(w_hz, z)
    assert w_h.shape == (B, H, N_x)
    # each row j of W_h is row j of W_hd scaled by d_j(z)
    d = z @ w_dz.T
    torch.testing.assert_close(w_h, d[:, :, None] * w_hd[None], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(explicit_matvec(w_hz, z, h), row_scaling_matvec(w_hd, w_dz, z, h),
                               atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="w_tensor must be"):
        explicit_weight(w_hz, torch.randn(B, NZ + 1))


def test_paper_initialisation():
    cell = HyperLSTMCell(N_x, H, HY, NZ)
    h_hat = torch.randn(B, HY)
    d_h, d_x, d_b = cell.scaling_vectors(h_hat)
    # z_h = z_x = 1 and d = (0.1 / N_z) * N_z = 0.1 for every unit; d_b = 0
    torch.testing.assert_close(d_h, torch.full((4, B, H), 0.1))
    torch.testing.assert_close(d_x, torch.full((4, B, H), 0.1))
    torch.testing.assert_close(d_b, torch.zeros(4, B, H))
    eye = torch.eye(H)
    for k in range(4):
        torch.testing.assert_close(cell.w_h[k] @ cell.w_h[k].T, eye, atol=1e-5, rtol=0)
    assert cell.hyper.lin_h.bias.abs().max() == 0
    assert 0.005 < cell.z_b.weight.std() < 0.02
    with torch.no_grad():
        cell.layer_norm[2].weight.fill_(7.0)
        cell.hyper.layer_norm_c.bias.fill_(3.0)
    cell.reset_parameters()
    assert cell.layer_norm[2].weight.eq(1).all() and cell.hyper.layer_norm_c.bias.eq(0).all()
    cell.reset_parameters("zeros")
    assert all(w.abs().max() == 0 for w in list(cell.w_h) + list(cell.w_x))
    with pytest.raises(ValueError, match="w_init must be 'orthogonal' or 'zeros', got 'xavier'"):
        cell.reset_parameters("xavier")


def test_two_chunks_equal_one_run_and_causality(randomise):
    m = randomise(HyperLSTM(N_x, H, HY, NZ, 2), seed=4)
    x = torch.randn(T, B, N_x)
    out, state = m(x)
    out1, s1 = m(x[:2])
    out2, s2 = m(x[2:], s1)
    torch.testing.assert_close(torch.cat([out1, out2]), out, atol=1e-5, rtol=1e-4)
    for a, b in zip(s2, state):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    z = x.clone()
    z[3:] = torch.randn(T - 3, B, N_x)
    out_z = m(z)[0]
    torch.testing.assert_close(out_z[:3], out[:3])
    assert not torch.allclose(out_z[3:], out[3:])


def test_batch_independence(randomise):
    m = randomise(HyperLSTM(N_x, H, HY, NZ, 1), seed=5)
    x = torch.randn(T, B, N_x)
    out = m(x)[0]
    y = x.clone()
    y[:, 0] = torch.randn(T, N_x)
    out_y = m(y)[0]
    torch.testing.assert_close(out_y[:, 1:], out[:, 1:])
    assert not torch.allclose(out_y[:, 0], out[:, 0])


def test_unstacked_state_and_empty_sequence():
    m = HyperLSTM(N_x, H, HY, NZ, 1)
    state = (torch.randn(B, H), torch.randn(B, H), torch.randn(B, HY), torch.randn(B, HY))
    out, new = m(torch.randn(T, B, N_x), state)
    assert [s.shape for s in new] == [(B, H), (B, H), (B, HY), (B, HY)]
    out, same = m(torch.randn(0, B, N_x), state)
    assert out.shape == (0, B, H)
    for a, b in zip(same, state):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("state, err, msg", [
    (None, None, None),
    ((torch.zeros(2, B, H),) * 2, ValueError, r"state must be a tuple of 4 tensors \(h, c, h_hat, "
                                              r"c_hat\), got 2 tensors"),
    ((torch.zeros(2, B, H),) * 4, ValueError, r"h_hat must have shape \[n_layers=2, batch_size=4, "
                                              r"hyper_size=5\], got \[2, 4, 8\]"),
])
def test_bad_state(state, err, msg):
    m = HyperLSTM(N_x, H, HY, NZ, 2)
    if err is None:
        m(torch.randn(T, B, N_x), state)
        return
    with pytest.raises(err, match=msg):
        m(torch.randn(T, B, N_x), state)


@pytest.mark.parametrize("x, err, msg", [
    (torch.randn(B, N_x), ValueError, r"x must have shape \[n_steps, batch_size, input_size=6\], "
                                      r"got \[4, 6\]"),
    (torch.randn(T, B, N_x + 1), ValueError, r"input_size=6\], got \[6, 4, 7\]"),
    (torch.zeros(T, B, N_x, dtype=torch.int32), TypeError, "floating-point"),
])
def test_bad_input(x, err, msg):
    with pytest.raises(err, match=msg):
        HyperLSTM(N_x, H, HY, NZ, 2)(x)


@pytest.mark.parametrize("kwargs, name", [
    (dict(input_size=0), "input_size"), (dict(hidden_size=0), "hidden_size"),
    (dict(hyper_size=0), "hyper_size"), (dict(n_z=0), "n_z"), (dict(n_layers=0), "n_layers"),
])
def test_bad_sizes(kwargs, name):
    args = dict(input_size=N_x, hidden_size=H, hyper_size=HY, n_z=NZ, n_layers=1) | kwargs
    with pytest.raises(ValueError, match=f"{name} must be a positive int"):
        HyperLSTM(**args)


def test_paper_init_ties_the_n_z_rows_of_z_h_and_z_x():
    """Documented in HyperLSTMCell: identical rows get identical gradients, so the tie persists."""
    torch.manual_seed(6)
    m = HyperLSTM(N_x, H, HY, 4, 1)
    opt = torch.optim.Adam(m.parameters(), 1e-2)
    for _ in range(5):
        x = torch.randn(T, B, N_x)
        loss = (m(x)[0][1:] - x[:-1, :, :1]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    cell = m.cells[0]
    for lin in (cell.z_h, cell.z_x):
        rows = lin.weight.view(4, 4, HY)  # [gate, n_z, hyper_size]
        assert (rows - rows[:, :1]).abs().max() == 0
    rows_b = cell.z_b.weight.view(4, 4, HY)
    assert (rows_b - rows_b[:, :1]).abs().max() > 1e-3  # z_b starts random: not tied
    assert cell.z_h.weight.abs().max() > 0  # the tied rows did train


@pytest.mark.parametrize("layer_norm", [True, False])
@pytest.mark.parametrize("fast", [False, True])
def test_forget_bias_of_the_authors_keeps_sigma_1_of_c(layer_norm, fast):
    """A fresh cell given x = 0, h = ĥ = ĉ = 0 forgets c₀ by exactly σ(1): its gate
    pre-activations are 0 (no input, and d_b starts at 0; a layer norm of the zero vector is 0),
    σ(i) tanh(g) = 0.5 · 0, and the forget bias 1 is added *after* the layer norm (added before
    it, a layer norm would remove it again and c₁ would be 0.5 c₀)."""
    from lstm_edu.fast import FastHyperLSTM

    torch.manual_seed(0)
    cls = FastHyperLSTM if fast else HyperLSTM
    m = cls(N_x, H, HY, NZ, 1, layer_norm=layer_norm).double()
    assert m.cells[0].forget_bias == 1.0 and m.cells[0].hyper.forget_bias == 1.0
    c0 = torch.randn(B, H, dtype=torch.float64)
    zeros = torch.zeros(B, H, dtype=torch.float64)
    state = (zeros, c0, torch.zeros(B, HY, dtype=torch.float64),
             torch.zeros(B, HY, dtype=torch.float64))
    _, (h1, c1, _, _) = m(torch.zeros(1, B, N_x, dtype=torch.float64), state)
    torch.testing.assert_close(c1, torch.sigmoid(torch.tensor(1.0, dtype=torch.float64)) * c0,
                               rtol=1e-12, atol=1e-12)
    m0 = cls(N_x, H, HY, NZ, 1, layer_norm=layer_norm, forget_bias=0.0).double()
    _, (_, c1_plain, _, _) = m0(torch.zeros(1, B, N_x, dtype=torch.float64), state)
    torch.testing.assert_close(c1_plain, 0.5 * c0, rtol=1e-12, atol=1e-12)  # without it: half


def test_lstm_forget_bias_is_added_after_the_layer_norm():
    """LSTMCell(forget_bias=b): f = LN_f(...) + b; default 0 (torch.nn.LSTM's cell)."""
    from lstm_edu import LSTMCell

    torch.manual_seed(0)
    assert LSTMCell(N_x, H).forget_bias == 0.0
    cell = LSTMCell(N_x, H, layer_norm=True, forget_bias=1.0).double()
    x, h = torch.zeros(B, N_x, dtype=torch.float64), torch.zeros(B, H, dtype=torch.float64)
    c0 = torch.randn(B, H, dtype=torch.float64)
    with torch.no_grad():
        cell.lin_h.bias.zero_()
    _, c1 = cell(x, h, c0)
    torch.testing.assert_close(c1, torch.sigmoid(torch.tensor(1.0, dtype=torch.float64)) * c0)
    with pytest.raises(TypeError, match="forget_bias must be a number"):
        LSTMCell(N_x, H, forget_bias="1")
    with pytest.raises(ValueError, match="to_torch needs a plain LSTM"):
        from lstm_edu import LSTM
        LSTM(N_x, H, 1, forget_bias=1.0).to_torch()


@pytest.mark.parametrize("z_init", ["paper", "untied"])
def test_z_init_tied_rows_stay_equal_untied_differ(z_init):
    """With the paper's init the N_z rows of z_h, z_x (and columns of d_h[k], d_x[k]) start equal
    and stay equal after a training step; z_init="untied" starts them different."""
    torch.manual_seed(6)
    m = HyperLSTM(N_x, H, HY, 4, 1)
    m.reset_parameters(z_init=z_init)
    opt = torch.optim.Adam(m.parameters(), 1e-2)
    x = torch.randn(T, B, N_x)
    loss = (m(x)[0][1:] - x[:-1, :, :1]).pow(2).mean()
    loss.backward()
    opt.step()
    cell = m.cells[0]
    for lin in (cell.z_h, cell.z_x):
        rows = lin.weight.view(4, 4, HY)  # [gate, n_z, hyper_size]
        diff = (rows - rows[:, :1]).abs().max().item()
        assert diff == 0 if z_init == "paper" else diff > 1e-3
    for maps in (cell.d_h, cell.d_x):
        w = maps[1].weight  # [N_h, n_z]
        diff = (w - w[:, :1]).abs().max().item()
        assert diff == 0 if z_init == "paper" else diff > 1e-4
    with pytest.raises(ValueError, match="z_init must be 'paper' or 'untied'"):
        m.reset_parameters(z_init="random")
