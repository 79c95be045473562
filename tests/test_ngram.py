"""Tests for lstm_edu.training.ngram: interpolated Kneser–Ney against a hand computation."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from lstm_edu.training.ngram import KneserNeyLM, unigram_bits_per_char


def test_bigram_model_of_aabab_matches_the_hand_computation():
    """Text "aabab", a = 0, b = 1, order 2.

    Bigram counts: ab 2, aa 1, ba 1, so n1 = 2, n2 = 1 and D2 = 2 / (2 + 2) = 1/2.
    Continuation counts of the unigrams (distinct bigram types ending in w): a 2 (aa, ba), b 1 (ab);
    n1 = 1, n2 = 1, D1 = 1/3.
    P1(a) = (2 - 1/3) / 3 + (1/3 * 2 / 3) * 1/2 = 5/9 + 1/9 = 2/3;  P1(b) = 2/9 + 1/9 = 1/3.
    P2(b|a) = (2 - 1/2) / 3 + (1/2 * 2 / 3) * P1(b) = 1/2 + 1/9 = 11/18;
    P2(a|a) = 1/6 + 2/9 = 7/18.
    P2(a|b) = (1 - 1/2) / 1 + (1/2 * 1 / 1) * P1(a) = 1/2 + 1/3 = 5/6;  P2(b|b) = 0 + 1/6 = 1/6.
    """
    model = KneserNeyLM(order=2, vocab_size=2).fit(torch.tensor([0, 0, 1, 0, 1]))
    assert model.discounts == pytest.approx([1 / 3, 1 / 2])
    expected = {
        (0,): [Fraction(7, 18), Fraction(11, 18)],
        (1,): [Fraction(5, 6), Fraction(1, 6)],
        (): [Fraction(2, 3), Fraction(1, 3)],
    }
    for context, probs in expected.items():
        got = model.next_char_probs(torch.tensor(context, dtype=torch.long))
        assert got.tolist() == pytest.approx([float(p) for p in probs], abs=1e-12), context
    # bits per character of "ab" after the context "b": -log2 P2(a|b) - log2 P2(b|a)
    bpc = model.bits_per_char(torch.tensor([0, 1]), context=torch.tensor([1]))
    assert bpc == pytest.approx(-(math.log2(5 / 6) + math.log2(11 / 18)) / 2)
    # without context the first character is scored by P1
    assert model.bits_per_char(torch.tensor([0])) == pytest.approx(-math.log2(2 / 3))


def test_every_distribution_sums_to_one_and_unseen_contexts_fall_back():
    rng = np.random.default_rng(0)
    text = rng.integers(0, 5, 3000) * (rng.random(3000) < 0.7)  # skewed, V = 5 with 0 common
    model = KneserNeyLM(order=4, vocab_size=6).fit(text)  # id 5 never occurs
    for _ in range(20):
        context = rng.integers(0, 6, 3)
        p = model.next_char_probs(context)
        assert p.sum().item() == pytest.approx(1.0, abs=1e-12)
        assert (p > 0).all(), "interpolation with 1/V leaves no zero"
    unseen = model.next_char_probs(torch.tensor([5, 5, 5]))  # no order knows this context
    lower = KneserNeyLM(order=1, vocab_size=6).fit(text)
    # with an unseen context of every length, order 4 falls back to its own unigram level
    assert (
        unseen.argmax().item()
        == lower.next_char_probs(torch.tensor([], dtype=torch.long)).argmax().item()
    )


def test_higher_orders_predict_structured_text_better_than_the_unigram():
    text = torch.tensor(list(b"the cat sat on the mat. the dog sat on the log. " * 40)) - 32
    train, val = text[:1500], text[1500:]
    V = int(text.max()) + 1
    bpc = [KneserNeyLM(k, V).fit(train).bits_per_char(val, context=train) for k in (1, 3, 5)]
    assert bpc[0] > bpc[1] > bpc[2]
    assert bpc[0] == pytest.approx(unigram_bits_per_char(train, val, V), abs=0.3)


def test_long_texts_are_scored_in_pieces_the_same_as_at_once():
    rng = np.random.default_rng(1)
    text = rng.integers(0, 7, 2_500_000)
    model = KneserNeyLM(3, 7).fit(text[:100_000])
    val = text[100_000:2_300_000]  # three pieces of at most 1e6
    whole = model.bits_per_char(val, context=text[:100_000])
    parts = [
        model.bits_per_char(val[a:b], context=text[: 100_000 + a]) * (b - a)
        for a, b in ((0, 700_000), (700_000, 1_500_000), (1_500_000, 2_200_000))
    ]
    assert whole == pytest.approx(sum(parts) / len(val), rel=1e-12)
    assert 2.7 < whole < 2.9  # uniform over 7: log2 7 = 2.81


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="order"):
        KneserNeyLM(0, 5)
    with pytest.raises(ValueError, match="63 bits"):
        KneserNeyLM(9, 222)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        KneserNeyLM(2, 3).fit([0, 1, 3])
    with pytest.raises(RuntimeError, match="fit"):
        KneserNeyLM(2, 3).bits_per_char([0, 1])
