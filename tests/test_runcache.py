"""Tests for lstm_edu.training.runcache: a hit, a miss on any change of the configuration, a
corrupt or mismatched entry retrained with a warning, the cache switched off."""

import json
import warnings

import pytest
import torch

from lstm_edu import LSTM, HyperLSTM, settings
from lstm_edu.training import runcache
from lstm_edu.training.charlm import CharLM
from lstm_edu.training.data import CharVocab
from lstm_edu.training.train import train_char_lm

TEXT = "the cat sat on the mat. " * 40
VOCAB = CharVocab.from_text(TEXT)
IDS = VOCAB.encode(TEXT)

pytestmark = pytest.mark.usefixtures("one_thread")


class Counting:
    """train_char_lm, counting its calls (a module-level callable, so the key can name it)."""

    def __init__(self):
        self.calls = 0
        self.__qualname__ = "train_char_lm"
        self.__module__ = train_char_lm.__module__
        self.__signature__ = __import__("inspect").signature(train_char_lm)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return train_char_lm(*args, **kwargs)


def model(hidden=16, seed=0, rnn=LSTM, **options):
    torch.manual_seed(seed)
    core = rnn(8, hidden, 1, **options) if rnn is LSTM else rnn(8, hidden, 8, 2, 1, **options)
    return CharLM(core, len(VOCAB), 8)


BASE = dict(steps=3, batch_size=4, n_steps=8, lr=1e-2, eval_every=3, progress=False, device="cpu")


def go(fn, cache, m=None, train=IDS, **changes):
    kwargs = {**BASE, **changes}
    return runcache.run(
        fn, m if m is not None else model(), train, IDS[:50], cache=cache, verbose=False, **kwargs
    )


def test_a_hit_loads_the_trained_weights_and_history_without_training(tmp_path):
    fn = Counting()
    trained = model()
    hist = go(fn, tmp_path, trained)
    assert fn.calls == 1 and len(list((tmp_path / "runs").glob("*.pt"))) == 1
    fresh = model()
    assert not torch.equal(fresh.head.weight, trained.head.weight)
    before = runcache.SECONDS["loaded"]
    again = go(fn, tmp_path, fresh)
    assert fn.calls == 1, "a hit must not train"
    assert runcache.SECONDS["loaded"] > before, "the training time of a hit is counted"
    assert again == hist
    for (name, a), b in zip(trained.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), name


@pytest.mark.parametrize(
    "change",
    [
        {"steps": 4},
        {"lr": 2e-2},
        {"batch_size": 2},
        {"n_steps": 7},
        {"seed": 1},
        {"clip": 0.5},
        {"schedule": "cosine"},
        {"train": IDS.flip(0)},
        {"m": "hidden"},
        {"m": "seed"},
        {"m": "class"},
        {"m": "forget_bias"},  # same weights, another constant: must not load the other run
    ],
)
def test_any_change_of_the_configuration_is_a_miss(tmp_path, change):
    fn = Counting()
    go(fn, tmp_path)
    change = dict(change)
    m = {"hidden": model(hidden=12), "seed": model(seed=1), "class": model(rnn=HyperLSTM),
         "forget_bias": model(forget_bias=1.0)}.get(
        change.pop("m", None)
    )
    go(fn, tmp_path, m, **change)
    assert fn.calls == 2
    assert len(list((tmp_path / "runs").glob("*.pt"))) == 2


def test_printing_options_are_not_part_of_the_key(tmp_path):
    fn = Counting()
    go(fn, tmp_path)
    go(fn, tmp_path, desc="another label", progress=True)
    assert fn.calls == 1


def test_package_version_is_part_of_the_key(tmp_path, monkeypatch):
    fn = Counting()
    go(fn, tmp_path)
    import lstm_edu

    monkeypatch.setattr(lstm_edu, "__version__", "99.0")
    go(fn, tmp_path)
    assert fn.calls == 2


def test_a_corrupt_entry_is_retrained_with_a_warning_never_used(tmp_path):
    fn = Counting()
    go(fn, tmp_path)
    (entry,) = (tmp_path / "runs").glob("*.pt")
    entry.write_bytes(entry.read_bytes()[:100])  # truncated
    with pytest.warns(UserWarning, match="could not be used"):
        go(fn, tmp_path)
    assert fn.calls == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten entry is good again
        go(fn, tmp_path)
    assert fn.calls == 2


def test_an_entry_with_another_configuration_is_retrained(tmp_path):
    fn = Counting()
    go(fn, tmp_path)
    (entry,) = (tmp_path / "runs").glob("*.pt")
    stored = torch.load(entry, weights_only=True)
    config = json.loads(stored["config"])
    config["arguments"]["steps"] = 1000  # as if another run had been stored here
    stored["config"] = json.dumps(config)
    torch.save(stored, entry)
    with pytest.warns(UserWarning, match="different configuration"):
        go(fn, tmp_path)
    assert fn.calls == 2


def test_entries_hold_only_what_weights_only_loads(tmp_path):
    go(Counting(), tmp_path)
    (entry,) = (tmp_path / "runs").glob("*.pt")
    stored = torch.load(entry, weights_only=True)
    assert set(stored) >= {"config", "model", "history", "seconds"}


def test_cache_off_and_cache_folder_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTM_EDU_CACHE", "off")
    assert runcache.cache_root() is None
    fn = Counting()
    runcache.run(fn, model(), IDS, IDS[:50], verbose=False, **BASE)
    runcache.run(fn, model(), IDS, IDS[:50], verbose=False, **BASE)
    assert fn.calls == 2
    monkeypatch.setenv("LSTM_EDU_CACHE", str(tmp_path / "here"))
    assert runcache.cache_root() == tmp_path / "here"
    runcache.run(fn, model(), IDS, IDS[:50], verbose=False, **BASE)
    assert len(list((tmp_path / "here" / "runs").glob("*.pt"))) == 1
    monkeypatch.delenv("LSTM_EDU_CACHE")
    assert runcache.cache_root().name == "lstm_edu"


def test_arguments_the_key_cannot_read_are_refused():
    with pytest.raises(TypeError, match="optimizer object"):
        runcache.configuration(
            train_char_lm,
            model(),
            (IDS,),
            {"steps": 1, "optimizer": torch.optim.SGD(model().parameters(), lr=0.1)},
        )
    with pytest.raises(TypeError, match="key_extra"):
        runcache.configuration(train_char_lm, model(), (IDS,), {"steps": 1, "val_ids": lambda: IDS})
    config = runcache.configuration(train_char_lm, model(), (IDS,), {"steps": 1, "device": None})
    assert config["arguments"]["device"] == {"device": settings.DEVICE.type}
    assert config["arguments"]["seed"] == 0, "defaults count"
