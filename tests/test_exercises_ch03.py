"""Chapter 3's checker accepts the reference solution and answers wrong attempts with a hint."""

import torch

from checker_cases import assert_stubs_and_crashes_give_hints, check
from lstm_edu.exercises import ch03


def loop_right(cell, x, h, c):
    out = []
    for t in range(x.shape[0]):
        h, c = cell(x[t], h, c)
        out.append(h)
    return torch.stack(out), (h, c)


def test_reference_passes(capsys):
    ok, out = check(ch03.check_lstm_layer_loop, loop_right, capsys)
    assert ok and out.startswith("✅")


def test_stubs_and_crashes_give_hints(capsys):
    assert_stubs_and_crashes_give_hints(ch03.check_lstm_layer_loop, capsys)


def test_ch03_specific_hints(capsys):
    def as_list(cell, x, h, c):
        out, s = loop_right(cell, x, h, c)
        return list(out), s

    def batch_first(cell, x, h, c):
        out, s = loop_right(cell, x, h, c)
        return out.transpose(0, 1), s

    def off_by_one(cell, x, h, c):
        out = []
        for t in range(x.shape[0]):
            out.append(h)
            h, c = cell(x[t], h, c)
        return torch.stack(out), (h, c)

    def first_state(cell, x, h, c):
        out, _ = loop_right(cell, x, h, c)
        return out, (h, c)

    for fn, words in [(as_list, "torch.stack"), (batch_first, "time-major"),
                      (off_by_one, "initial h"), (first_state, "after the last step"),
                      (lambda *a: None, "return (out")]:
        ok, out = check(ch03.check_lstm_layer_loop, fn, capsys)
        assert not ok and words in out, out


def test_other_dtypes_get_an_answer_not_a_crash(capsys):
    ok, out = check(ch03.check_lstm_layer_loop,
                    lambda *a: (lambda r: (r[0].double(), r[1]))(loop_right(*a)), capsys)
    assert ok, out


def test_wrong_containers_and_devices_get_hints(capsys):
    # a tuple of tensors instead of one stacked tensor, and a bare tensor where the pair
    # (h_T, c_T) belongs
    ok, out = check(ch03.check_lstm_layer_loop,
                    lambda *a: (tuple(loop_right(*a)[0]), loop_right(*a)[1]), capsys)
    assert not ok and "torch.stack" in out, out
    ok, out = check(ch03.check_lstm_layer_loop,
                    lambda *a: (loop_right(*a)[0], loop_right(*a)[1][0]), capsys)
    assert not ok and "pair (h_T, c_T)" in out, out
    # values that cannot be compared on the CPU: a hint, not a crash
    ok, out = check(ch03.check_lstm_layer_loop,
                    lambda *a: (loop_right(*a)[0].to("meta"), loop_right(*a)[1]), capsys)
    assert not ok and "meta tensor with no values" in out, out
