"""Tests for lstm_edu.training.data: corpora, batching for truncated BPTT, time series, adding
problem."""


import pytest
import torch

from lstm_edu.training import data

pytestmark = pytest.mark.usefixtures("one_thread")


def test_python_docs_text_is_real_and_deterministic():
    text = data.python_docs_text()
    assert len(text) > 300_000
    assert "for" in text and "def" in text and "while" in text
    assert text == data.python_docs_text()


def test_vocab_round_trip_and_errors():
    text = "hello, world\n"
    vocab = data.CharVocab.from_text(text)
    assert len(vocab) == len(set(text))
    assert vocab.chars == "".join(sorted(set(text)))
    ids = vocab.encode(text)
    assert ids.dtype == torch.long and ids.shape == (len(text),)
    assert vocab.decode(ids) == text
    assert vocab.decode(ids.tolist()) == text
    assert data.CharVocab(vocab.chars).encode("low").tolist() == vocab.encode("low").tolist()
    with pytest.raises(ValueError, match="not in the vocabulary"):
        vocab.encode("xyz")
    with pytest.raises(ValueError):
        data.CharVocab("aa")


def test_train_val_split_is_contiguous():
    ids = torch.arange(100)
    tr, va = data.train_val_split(ids, 0.1)
    assert tr.tolist() == list(range(90)) and va.tolist() == list(range(90, 100))
    with pytest.raises(ValueError):
        data.train_val_split(ids, 1.5)


def test_char_batches_targets_are_next_chars_and_batches_continue():
    ids = torch.arange(1000)
    batches = list(data.char_batches(ids, batch_size=4, n_steps=10))
    x0, y0 = batches[0]
    assert x0.shape == (10, 4) and y0.shape == (10, 4)
    for x, y in batches:
        assert torch.equal(y, x + 1)  # ids are consecutive integers: the target is the next one
    # batch k+1 continues batch k in every column
    for (xa, _), (xb, _) in zip(batches, batches[1:]):
        assert torch.equal(xb[0], xa[-1] + 1)
    # every stream together covers the text once (minus the tail that does not divide evenly)
    covered = torch.cat([x for x, _ in batches]).t().reshape(-1)
    assert covered.unique().numel() == covered.numel()
    assert covered.numel() >= 1000 - 4 * 2


def test_char_batches_random_offset_changes_boundaries():
    ids = torch.arange(1000)
    firsts = {int(next(data.char_batches(ids, 4, 10, torch.Generator().manual_seed(s)))[0][0, 0])
              for s in range(20)}
    assert len(firsts) > 1 and all(0 <= f < 10 for f in firsts)


def test_membrane_potential_and_stock_prices():
    t, v = data.membrane_potential()
    assert t.shape == v.shape == (12000,)
    assert t[1] - t[0] == pytest.approx(0.0005)
    # millivolts: resting potential, spikes
    assert -70 < float(v.min()) < -60 and float(v.max()) < 10
    dates, price = data.stock_prices()
    assert len(dates) == len(price) > 1000
    assert float(price.min()) > 0


def test_sequence_windows():
    s = torch.arange(20.0)
    x, y = data.sequence_windows(s, n_steps=5, horizon=3)
    assert x.shape == (5, 13, 1) and y.shape == (13, 1)
    assert x[:, 0, 0].tolist() == [0, 1, 2, 3, 4] and y[0, 0] == 7
    assert x[:, -1, 0].tolist() == [12, 13, 14, 15, 16] and y[-1, 0] == 19
    x, y = data.sequence_windows(s, n_steps=5, horizon=1, stride=5)
    assert y[:, 0].tolist() == [5, 10, 15]
    with pytest.raises(ValueError):
        data.sequence_windows(s, n_steps=30)


def test_adding_problem():
    g = torch.Generator().manual_seed(0)
    x, y = data.adding_problem(50, 64, g)
    assert x.shape == (50, 64, 2) and y.shape == (64, 1)
    markers = x[..., 1]
    assert torch.equal(markers.sum(0), torch.full((64,), 2.0))
    assert markers[:25].sum(0).eq(1).all() and markers[25:].sum(0).eq(1).all()
    assert torch.allclose((x[..., 0] * markers).sum(0, keepdim=True).t(), y)
    x2, _ = data.adding_problem(50, 64, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)
    # predicting the mean 1 scores about 1/6
    _, y_big = data.adding_problem(10, 20000, g)
    assert abs(((y_big - 1) ** 2).mean().item() - 1 / 6) < 0.01
