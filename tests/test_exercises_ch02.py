"""Chapter 2's checker accepts the reference solution and answers wrong attempts with a hint."""

import torch

from checker_cases import assert_stubs_and_crashes_give_hints, check
from lstm_edu.exercises import ch02


def step_right(x, h, c, W, b):
    i, f, g, o = (torch.cat([h, x], dim=1) @ W.T + b).chunk(4, dim=1)
    c_t = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_t), c_t


def test_reference_passes(capsys):
    ok, out = check(ch02.check_lstm_step_concat, step_right, capsys)
    assert ok and out.startswith("✅")


def test_stubs_and_crashes_give_hints(capsys):
    assert_stubs_and_crashes_give_hints(ch02.check_lstm_step_concat, capsys)


def test_ch02_specific_hints(capsys):
    def swapped(*a):
        h, c = step_right(*a)
        return c, h

    def bad_h(*a):
        h, c = step_right(*a)
        return torch.tanh(c), c

    def x_first(x, h, c, W, b):  # [x, h] instead of [h, x]
        i, f, g, o = (torch.cat([x, h], dim=1) @ W.T + b).chunk(4, dim=1)
        c_t = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_t), c_t

    def no_tanh_g(x, h, c, W, b):
        i, f, g, o = (torch.cat([h, x], dim=1) @ W.T + b).chunk(4, dim=1)
        c_t = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.sigmoid(g)
        return torch.sigmoid(o) * torch.tanh(c_t), c_t

    def wrong_order(x, h, c, W, b):
        f, i, g, o = (torch.cat([h, x], dim=1) @ W.T + b).chunk(4, dim=1)
        c_t = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_t), c_t

    for fn, words in [(swapped, "swapped"), (bad_h, "h_t is not"), (x_first, "concatenate h first"),
                      (wrong_order, "order f, i, g, o"), (no_tanh_g, "tanh(g)"),
                      (lambda *a: 3, "pair")]:
        ok, out = check(ch02.check_lstm_step_concat, fn, capsys)
        assert not ok and words in out, out


def test_other_dtypes_get_an_answer_not_a_crash(capsys):
    # a float64 result is judged on its values (right here), an int result gets a hint
    ok, out = check(ch02.check_lstm_step_concat,
                    lambda *a: tuple(t.double() for t in step_right(*a)), capsys)
    assert ok, out
    ok, out = check(ch02.check_lstm_step_concat,
                    lambda *a: tuple(t.long() for t in step_right(*a)), capsys)
    assert not ok and "wrong values" in out


def test_wrong_containers_and_devices_get_hints(capsys):
    # a stacked tensor where the pair (h_t, c_t) belongs
    ok, out = check(ch02.check_lstm_step_concat, lambda *a: torch.stack(step_right(*a)), capsys)
    assert not ok and "pair" in out, out
    # values that cannot be compared on the CPU: a hint, not a crash
    ok, out = check(ch02.check_lstm_step_concat,
                    lambda *a: tuple(t.to("meta") for t in step_right(*a)), capsys)
    assert not ok and "meta tensor with no values" in out, out
