"""Tests for lstm_edu.training.train, .charlm, .checkpoints: the heads, the training loops,
evaluation, sampling, checkpoints."""

import math

import pytest
import torch
from torch import nn

from lstm_edu import LSTM, HyperLSTM
from lstm_edu.training.charlm import CharLM, bits_per_char, sample, top_next_chars
from lstm_edu.training.checkpoints import load_checkpoint, save_checkpoint
from lstm_edu.training.common import detach_state, evaluating
from lstm_edu.training.data import CharVocab, adding_problem, char_batches
from lstm_edu.training.train import (
    NonFiniteLoss,
    SequenceRegressor,
    fit,
    last_fifth_improvement,
    train_char_lm,
)

TEXT = "the cat sat on the mat. " * 60


pytestmark = pytest.mark.usefixtures("one_thread")


def small_lm(vocab_size, rnn="lstm"):
    torch.manual_seed(0)
    if rnn == "lstm":
        core = LSTM(8, 16, 2)
    elif rnn == "hyper":
        core = HyperLSTM(8, 16, 8, 4, 1)
    else:
        core = nn.LSTM(8, 16, 1)
    return CharLM(core, vocab_size, 8)


@pytest.mark.parametrize("rnn", ["lstm", "hyper", "torch"])
def test_char_lm_shapes_for_any_rnn(rnn):
    model = small_lm(11, rnn)
    ids = torch.randint(0, 11, (7, 3))
    logits, state = model(ids)
    assert logits.shape == (7, 3, 11)
    logits2, _ = model(ids, detach_state(state))
    assert logits2.shape == (7, 3, 11)


def test_char_lm_rejects_mismatched_sizes_and_shapes():
    with pytest.raises(ValueError, match="embed_size"):
        CharLM(LSTM(8, 16, 1), 11, 9)
    with pytest.raises(ValueError, match=r"\[n_steps, batch_size\]"):
        small_lm(11)(torch.zeros(5, dtype=torch.long))


def test_bits_per_char_of_a_uniform_model_is_log2_vocab():
    vocab = CharVocab.from_text(TEXT)
    model = small_lm(len(vocab))
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
    bpc = bits_per_char(model, vocab.encode(TEXT), batch_size=4, n_steps=13)
    assert bpc == pytest.approx(math.log2(len(vocab)), rel=1e-5)


def test_bits_per_char_carries_state_across_chunks():
    """Scoring in chunks with the state carried equals scoring each stream in one piece."""
    vocab = CharVocab.from_text(TEXT)
    model = small_lm(len(vocab))
    ids = vocab.encode(TEXT)
    chunked = bits_per_char(model, ids, batch_size=3, n_steps=7)
    one_piece = bits_per_char(model, ids, batch_size=3, n_steps=10_000)
    assert chunked == pytest.approx(one_piece, rel=1e-4)
    # and a model that drops the state between chunks scores differently
    state_free = 0.0
    with torch.no_grad():
        total, count = 0.0, 0
        for x, y in char_batches(ids, 3, 7):
            logits, _ = model(x)
            total += nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(),
                                                 reduction="sum").item()
            count += y.numel()
        state_free = total / count / math.log(2)
    assert abs(state_free - chunked) > 1e-3


def test_train_char_lm_learns_a_repetitive_text_and_samples_it(capsys):
    vocab = CharVocab.from_text(TEXT)
    ids = vocab.encode(TEXT)
    model = small_lm(len(vocab))
    hist = train_char_lm(model, ids[:1200], ids[1200:], steps=150, batch_size=8, n_steps=20,
                         lr=1e-2,
                         device="cpu", eval_every=50, sample_every=75, vocab=vocab,
                         sample_length=30,
                         progress=False)
    assert hist["val_step"] == [0, 50, 100, 150]
    assert hist["val_bpc"][0] > 3.0 and hist["val_bpc"][-1] < 0.5
    assert len(hist["train_bpc"]) == len(hist["grad_norm"]) == 150
    assert [s for s, _ in hist["samples"]] == [75, 150]
    assert "sample after 75 steps" in capsys.readouterr().out
    assert "the cat sat on the mat" in sample(model, vocab, "the ", 60, temperature=0)
    ids_top, probs = top_next_chars(model, vocab, "the ca", k=3)
    assert ids_top.shape == probs.shape == (6, 3)
    assert vocab.decode(ids_top[-1, :1]) == "t" and probs[-1, 0] > 0.5


def test_sample_is_reproducible_and_in_vocab():
    vocab = CharVocab.from_text(TEXT)
    model = small_lm(len(vocab))
    a = sample(model, vocab, "the", 40, 1.0, torch.Generator().manual_seed(3))
    b = sample(model, vocab, "the", 40, 1.0, torch.Generator().manual_seed(3))
    assert a == b and len(a) == 40 and set(a) <= set(vocab.chars)
    assert sample(model, vocab, "the", 20, 0) == sample(model, vocab, "the", 20, 0)
    with pytest.raises(ValueError):
        sample(model, vocab, "", 5)


def test_checkpoint_round_trip_with_weights_only(tmp_path):
    vocab = CharVocab.from_text(TEXT)
    model = small_lm(len(vocab))
    opt = torch.optim.Adam(model.parameters())
    model(vocab.encode("the cat").unsqueeze(1))[0].sum().backward()
    opt.step()
    path = save_checkpoint(tmp_path / "lm.pt", model, opt, vocab=vocab.chars, config={"hidden": 16},
                           history={"val_bpc": [4.1, 2.0]})
    fresh = small_lm(len(vocab))
    with torch.no_grad():
        for p in fresh.parameters():
            p.add_(1.0)
    fresh_opt = torch.optim.Adam(fresh.parameters())
    extra = load_checkpoint(path, fresh, fresh_opt)
    assert extra == {"vocab": vocab.chars, "config": {"hidden": 16},
                     "history": {"val_bpc": [4.1, 2.0]}}
    ids = vocab.encode("the mat").unsqueeze(1)
    assert torch.equal(fresh(ids)[0], model(ids)[0])
    assert fresh_opt.state_dict()["state"].keys() == opt.state_dict()["state"].keys()


class NotAllowed:
    pass


def test_load_checkpoint_refuses_arbitrary_objects(tmp_path):
    model = small_lm(5)
    path = save_checkpoint(tmp_path / "bad.pt", model, evil=NotAllowed())
    with pytest.raises(Exception, match="[Ww]eights only"):
        load_checkpoint(path, small_lm(5))


def test_fit_trains_a_sequence_regressor():
    torch.manual_seed(0)
    model = SequenceRegressor(LSTM(2, 16, 1))
    gen = torch.Generator().manual_seed(0)
    eval_batch = adding_problem(6, 256, torch.Generator().manual_seed(1))
    hist = fit(model, lambda step: adding_problem(6, 64, gen), steps=300, lr=1e-2,
               eval_batch=eval_batch,
               eval_every=100, device="cpu", progress=False)
    assert hist["eval_step"] == [0, 100, 200, 300]
    assert len(hist["loss"]) == 300
    assert hist["eval_loss"][-1] < 0.02 < hist["eval_loss"][0]
    assert model(eval_batch[0]).shape == (256, 1)


def test_a_non_finite_loss_stops_training_naming_the_step_and_the_last_good_loss():
    vocab = CharVocab.from_text(TEXT)
    model = small_lm(len(vocab))
    calls = {"n": 0}
    forward = model.forward

    def poisoned(ids, state=None):                      # the 3rd step's logits are NaN
        calls["n"] += 1
        logits, state = forward(ids, state)
        return (logits * float("nan") if calls["n"] == 4 else logits), state   # call 1: validation

    model.forward = poisoned
    with pytest.raises(NonFiniteLoss, match=r"not finite .* at step 3.*last finite loss was "
                                            r"[0-9.]+ at step 2") as err:
        train_char_lm(model, vocab.encode(TEXT), vocab.encode(TEXT[:100]), steps=10, batch_size=4,
                      n_steps=8, eval_every=100, progress=False)
    assert err.value.step == 3 and err.value.history["step"] == [1, 2]
    assert err.value.last_good == pytest.approx(err.value.history["train_bpc"][-1] * math.log(2))


def test_fit_stops_on_an_infinite_loss():
    model = SequenceRegressor(LSTM(2, 8, 1))
    batch = adding_problem(5, 4, torch.Generator().manual_seed(0))
    calls = []

    def loss_fn(p, y):
        return torch.nn.functional.mse_loss(p, y) / (0.0 if len(calls) >= 2 else 1.0)

    def make(step):
        calls.append(step)
        return batch

    with pytest.raises(NonFiniteLoss, match="at step 2") as err:
        fit(model, make, steps=5, loss_fn=loss_fn, progress=False)
    assert err.value.history["step"] == [1]


def test_an_interrupt_keeps_the_history_so_far():
    model = SequenceRegressor(LSTM(2, 8, 1))
    batch = adding_problem(5, 4, torch.Generator().manual_seed(0))

    def make(step):
        if step == 4:
            raise KeyboardInterrupt
        return batch

    hist = fit(model, make, steps=10, progress=False)
    assert hist["step"] == [1, 2, 3] and hist["stopped_early"] == "interrupted at step 4"


def test_cosine_schedule_ends_at_a_tenth_and_bad_names_are_refused():
    vocab = CharVocab.from_text(TEXT)
    model = small_lm(len(vocab))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    train_char_lm(model, vocab.encode(TEXT), steps=5, batch_size=4, n_steps=8, optimizer=opt,
                  schedule="cosine", progress=False)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.001)
    with pytest.raises(ValueError, match="'constant' or 'cosine'"):
        train_char_lm(model, vocab.encode(TEXT), steps=5, schedule="linear", progress=False)


def test_last_fifth_improvement():
    assert last_fifth_improvement([0, 100], [2.0, 1.0]) == pytest.approx((1.2 - 1.0) / 1.2)
    assert last_fifth_improvement([0, 50, 80, 100],
                                  [4.0, 2.0, 1.5, 1.47]) == pytest.approx(0.03 / 1.5)
    assert last_fifth_improvement([0, 10, 20], [3.0, 3.0, 3.0]) == 0.0
    with pytest.raises(ValueError, match="two"):
        last_fifth_improvement([0], [1.0])


def test_fit_cosine_schedule_ends_at_a_tenth():
    model = SequenceRegressor(LSTM(2, 8, 1))
    batch = adding_problem(5, 4, torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    fit(model, lambda step: batch, steps=4, optimizer=opt, schedule="cosine", progress=False)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.002)
    with pytest.raises(ValueError, match="'constant' or 'cosine'"):
        fit(model, lambda step: batch, steps=4, schedule="step", progress=False)


@pytest.mark.parametrize("training", [True, False])
def test_evaluation_helpers_run_in_eval_mode_and_restore_the_mode(training):
    vocab = CharVocab.from_text(TEXT)
    model = small_lm(len(vocab))
    modes = []
    model.register_forward_pre_hook(lambda module, args: modes.append(module.training))
    calls = [lambda: bits_per_char(model, vocab.encode(TEXT[:40]), batch_size=2, n_steps=8),
             lambda: sample(model, vocab, "the", 5),
             lambda: top_next_chars(model, vocab, "the ca", k=2)]
    for call in calls:
        model.train(training)
        modes.clear()
        call()
        assert modes and not any(modes)  # every forward ran in eval mode
        assert model.training is training and model.rnn.training is training
    with pytest.raises(RuntimeError), evaluating(model):
        assert not model.training
        raise RuntimeError("the mode comes back after an error too")
    assert model.training is training
