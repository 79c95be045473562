"""The plain RNN against torch.nn.RNN, and the gradient helpers against autograd and hand-made
Jacobians."""

import math

import pytest
import torch
from torch import nn

from lstm_edu import LSTM
from lstm_edu.analysis.gradients import (
    factor_per_step,
    initial_state_gradient_norms,
    readout_vector,
    rnn_gradient_by_jacobians,
)
from lstm_edu.models.rnn import (
    RNN,
    RNNCell,
    rnn_step_jacobian,
    set_spectral_radius,
    spectral_radius,
)


@pytest.mark.parametrize("n_layers", [1, 2])
def test_rnn_matches_torch_both_ways(n_layers):
    torch.manual_seed(0)
    ref = nn.RNN(3, 5, n_layers)
    x, h0 = torch.randn(7, 2, 3), torch.randn(n_layers, 2, 5)
    out_ref, h_ref = ref(x, h0)
    ours = RNN.from_torch(ref)
    out, (h,) = ours(x, (h0,))
    assert torch.allclose(out, out_ref, atol=1e-6) and torch.allclose(h, h_ref, atol=1e-6)
    back = ours.to_torch()
    out2, h2 = back(x, h0)
    assert torch.allclose(out2, out_ref, atol=1e-6) and torch.allclose(h2, h_ref, atol=1e-6)


def test_rnn_cell_formula():
    torch.manual_seed(0)
    cell = RNNCell(3, 4)
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    (h_next,) = cell(x, h)
    want = torch.tanh(x @ cell.lin_x.weight.T + h @ cell.lin_h.weight.T + cell.lin_h.bias)
    assert torch.allclose(h_next, want, atol=1e-6)


def test_rnn_rejects_bad_input():
    rnn = RNN(3, 4)
    with pytest.raises(ValueError, match="input_size=3"):
        rnn(torch.randn(5, 2, 4))
    with pytest.raises(ValueError, match="tanh"):
        RNN.from_torch(nn.RNN(3, 4, nonlinearity="relu"))
    with pytest.raises(TypeError):
        RNN.from_torch(nn.LSTM(3, 4))


def test_set_spectral_radius():
    torch.manual_seed(0)
    w = torch.randn(6, 6)
    set_spectral_radius(w, 1.7)
    assert abs(spectral_radius(w) - 1.7) < 1e-5
    with pytest.raises(ValueError):
        set_spectral_radius(torch.zeros(3, 3), 1.0)
    with pytest.raises(ValueError):
        spectral_radius(torch.zeros(3, 4))


def test_step_jacobian_matches_autograd():
    torch.manual_seed(0)
    cell = RNNCell(3, 4).double()
    x, h = torch.randn(1, 3, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    (h_next,) = cell(x, h.unsqueeze(0))
    want = torch.autograd.functional.jacobian(lambda hp: cell(x, hp.unsqueeze(0))[0][0], h)
    assert torch.allclose(rnn_step_jacobian(h_next[0].detach(), cell.lin_h.weight.detach()), want,
                          atol=1e-12)


def test_jacobian_product_equals_autograd_gradient():
    torch.manual_seed(0)
    rnn = RNN(3, 6).double()
    x = torch.randn(12, 1, 3, dtype=torch.float64)
    by_hand = rnn_gradient_by_jacobians(rnn.cells[0], x[:, 0])
    h0 = torch.zeros(1, 1, 6, dtype=torch.float64, requires_grad=True)
    out, _ = rnn(x, (h0,))
    (out[-1, 0] @ readout_vector(6, dtype=torch.float64)).backward()
    assert torch.allclose(by_hand, h0.grad[0, 0], atol=1e-12)
    norms = initial_state_gradient_norms(rnn, x, distances=[12])
    assert torch.allclose(norms["h"][0, 0], by_hand.norm(), rtol=1e-10)


def test_gradient_norms_per_sequence_and_shapes():
    torch.manual_seed(0)
    lstm = LSTM(3, 4, 2)
    x = torch.randn(9, 3, 3)
    norms = initial_state_gradient_norms(lstm, x, distances=[1, 5, 9])
    assert set(norms) == {"distance", "h", "c"}
    assert norms["h"].shape == norms["c"].shape == (3, 3)
    # sequence 1 alone gives the same numbers as inside the batch: sequences do not interact
    alone = initial_state_gradient_norms(lstm, x[:, 1:2], distances=[1, 5, 9])
    assert torch.allclose(alone["c"][:, 0], norms["c"][:, 1], rtol=1e-5)
    with pytest.raises(ValueError, match="distances"):
        initial_state_gradient_norms(lstm, x, distances=[0])


def test_vanishing_and_exploding_regimes():
    torch.manual_seed(0)
    x = torch.randn(40, 8, 4)
    small, large = RNN(4, 16), RNN(4, 16)
    set_spectral_radius(small.cells[0].lin_h.weight, 0.5)
    set_spectral_radius(large.cells[0].lin_h.weight, 3.0)
    small_norms = initial_state_gradient_norms(small, x, distances=[1, 40])["h"]
    large_norms = initial_state_gradient_norms(large, x, distances=[1, 40])["h"]
    small_norms, large_norms = small_norms.median(dim=1).values, large_norms.median(dim=1).values
    assert small_norms[1] < 1e-6 * small_norms[0]
    # grows (tanh saturation slows the growth, so only a factor of 10 is asked)
    assert large_norms[1] > 10 * large_norms[0]


def test_factor_per_step():
    assert abs(factor_per_step([1, 2, 3, 4], torch.tensor([1.0, 0.5, 0.25, 0.125])) - 0.5) < 1e-12
    # underflowed zeros are left out: the rate comes from the last positive norm
    assert abs(factor_per_step([1, 3, 5, 7], torch.tensor([8.0, 2.0, 0.5, 0.0])) - 0.5) < 1e-12
    assert abs(factor_per_step([0, 10], torch.tensor([1.0, 1024.0])) - 2 ** 1) < 1e-12
    assert math.isnan(factor_per_step([1, 2], torch.tensor([0.0, 0.0])))
    with pytest.raises(ValueError):
        factor_per_step([1, 2, 3], torch.tensor([1.0, 2.0]))


def test_tiny_float32_gradients_do_not_read_zero():
    # a float32 gradient of size ~1e-30 is representable; its norm must not underflow to 0
    torch.manual_seed(0)
    rnn = RNN(2, 4)
    set_spectral_radius(rnn.cells[0].lin_h.weight, 0.2)
    x = torch.zeros(60, 1, 2)
    n = initial_state_gradient_norms(rnn, x, distances=[40])["h"][0, 0].item()
    assert n > 0


def test_gradient_norms_work_for_the_hyperlstm_too():
    from lstm_edu import HyperLSTM

    torch.manual_seed(0)
    norms = initial_state_gradient_norms(HyperLSTM(3, 8, 4, 2, 2), torch.randn(6, 2, 3),
                                         distances=[1, 6])
    assert set(norms) == {"distance", "h", "c", "h_hat", "c_hat"}
    assert all(norms[k].shape == (2, 2) and bool(torch.isfinite(norms[k]).all())
               for k in ("h", "c", "h_hat", "c_hat"))
    # (at the paper's initialisation the hyper state does not yet affect the output, so its gradient
    # may be 0)
    assert bool((norms["h"] > 0).all()) and bool((norms["c"] > 0).all())
