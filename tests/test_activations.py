"""lstm_edu.analysis.activations: recorded gates, text features, correlations, saturation."""

import pytest
import torch

from lstm_edu import LSTM, HyperLSTM
from lstm_edu.analysis.activations import (
    best_cells,
    correlations,
    record_lstm,
    saturation,
    text_features,
)
from lstm_edu.training.charlm import CharLM

pytestmark = pytest.mark.usefixtures("one_thread")


def test_record_lstm_matches_the_network_and_its_equations():
    torch.manual_seed(0)
    lstm = LSTM(3, 5, 2)
    x = torch.randn(7, 2, 3)
    out, (h, c) = lstm(x)
    rec = record_lstm(lstm, x)
    for k in ("sigma_i", "sigma_f", "tanh_g", "sigma_o", "c", "h"):
        assert rec[k].shape == (2, 7, 2, 5)
    assert torch.allclose(rec["h"][-1], out, atol=1e-6)        # top layer's h is the output
    assert torch.allclose(rec["c"][:, -1], c, atol=1e-6)        # last step's c is the final state
    assert ((rec["sigma_f"] > 0) & (rec["sigma_f"] < 1)).all() and (rec["tanh_g"].abs() < 1).all()
    # the LSTM equations hold between recorded quantities
    c_prev = torch.cat([torch.zeros(2, 1, 2, 5), rec["c"][:, :-1]], dim=1)
    assert torch.allclose(rec["c"], rec["sigma_f"] * c_prev + rec["sigma_i"] * rec["tanh_g"],
                          atol=1e-6)
    assert torch.allclose(rec["h"], rec["sigma_o"] * torch.tanh(rec["c"]), atol=1e-6)
    assert lstm.cells[0]._forward_hooks == {}                   # hooks removed


def test_record_lstm_through_a_char_lm_and_rejects_other_rnns():
    torch.manual_seed(0)
    lm = CharLM(LSTM(4, 6, 1), 10, 4)
    ids = torch.randint(0, 10, (9, 1))
    rec = record_lstm(lm, ids)
    assert rec["c"].shape == (1, 9, 1, 6)
    with pytest.raises(TypeError, match="lstm_edu.LSTM"):
        record_lstm(CharLM(HyperLSTM(4, 6, 3, 2, 1), 10, 4), ids)


def test_text_features():
    f = text_features('a "b" (c[d])\n  x')
    assert f["inside quotes"].tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert f["inside brackets"].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert f["bracket depth"].tolist()[6:12] == [1, 1, 2, 2, 1, 0]
    assert f["position in line"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 1, 2, 3]
    assert f["indented line"].tolist()[-3:] == [1, 1, 1] and f["indented line"][0] == 0
    assert f["space"][1] == 1 and f["space"][0] == 0


def test_correlations_against_numpy_and_constant_units():
    import numpy as np

    gen = torch.Generator().manual_seed(0)
    feat = torch.rand(50, generator=gen)
    acts = torch.stack([feat * 2 + 1, -feat, torch.rand(50, generator=gen), torch.ones(50)], dim=1)
    r = correlations(acts, feat)
    assert r[0] == pytest.approx(1.0, abs=1e-6) and r[1] == pytest.approx(-1.0, abs=1e-6)
    assert r[2] == pytest.approx(float(np.corrcoef(acts[:, 2].numpy(), feat.numpy())[0, 1]),
                                 abs=1e-5)
    assert r[3] == 0.0
    with pytest.raises(ValueError):
        correlations(acts, feat[:10])


def test_best_cells_finds_a_planted_unit():
    text = 'x = f("abc", (1, 2))\n' * 5
    feats = text_features(text)
    T = len(text)
    c = torch.randn(2, T, 1, 8, generator=torch.Generator().manual_seed(0)) * 0.1
    c[1, :, 0, 3] += feats["inside quotes"]          # layer 1, unit 3 tracks quotes
    rec = {"c": c}
    found = {name: (layer, unit, r)
             for name, layer, unit, r in best_cells(rec, {"inside quotes": feats["inside quotes"]})}
    layer, unit, r = found["inside quotes"]
    assert (layer, unit) == (1, 3) and r > 0.9


def test_saturation():
    gate = torch.tensor([[0.05, 0.5], [0.95, 0.5], [0.05, 0.99], [0.5, 0.5]])
    left, right = saturation(gate)
    assert left.tolist() == [0.5, 0.0] and right.tolist() == [0.25, 0.25]
