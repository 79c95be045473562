"""The chapter 1-3 checkers accept the reference solutions and answer wrong attempts with a hint."""

import torch

from lstm_edu.exercises import ch01, ch02, ch03


def jacobian_right(h_t, w_hh):
    return (1 - h_t**2).unsqueeze(1) * w_hh


def step_right(x, h, c, W, b):
    i, f, g, o = (torch.cat([h, x], dim=1) @ W.T + b).chunk(4, dim=1)
    c_t = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_t), c_t


def loop_right(cell, x, h, c):
    out = []
    for t in range(x.shape[0]):
        h, c = cell(x[t], h, c)
        out.append(h)
    return torch.stack(out), (h, c)


def stub(*args):
    raise NotImplementedError


def check(checker, fn, capsys):
    ok = checker(fn)
    return ok, capsys.readouterr().out


def test_references_pass(capsys):
    for checker, fn in [(ch01.check_rnn_step_jacobian, jacobian_right), (ch02.check_lstm_step_concat, step_right),
                        (ch03.check_lstm_layer_loop, loop_right)]:
        ok, out = check(checker, fn, capsys)
        assert ok and out.startswith("✅")


def test_stubs_and_crashes_give_hints(capsys):
    for checker in (ch01.check_rnn_step_jacobian, ch02.check_lstm_step_concat, ch03.check_lstm_layer_loop):
        ok, out = check(checker, stub, capsys)
        assert not ok and "NotImplementedError" in out
        ok, out = check(checker, lambda *a: 1 / 0, capsys)
        assert not ok and "ZeroDivisionError" in out
        ok, out = check(checker, 42, capsys)
        assert not ok and "expected a function" in out


def test_ch01_specific_hints(capsys):
    ok, out = check(ch01.check_rnn_step_jacobian, lambda h, w: w, capsys)
    assert not ok and "derivative" in out
    ok, out = check(ch01.check_rnn_step_jacobian, lambda h, w: w * (1 - h**2).unsqueeze(0), capsys)
    assert not ok and "columns" in out
    ok, out = check(ch01.check_rnn_step_jacobian, lambda h, w: ((1 - h**2).unsqueeze(1) * w).T, capsys)
    assert not ok and "transpose" in out
    ok, out = check(ch01.check_rnn_step_jacobian, lambda h, w: w[:2], capsys)
    assert not ok and "shape" in out


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
                      (wrong_order, "order f, i, g, o"), (no_tanh_g, "tanh(g)"), (lambda *a: 3, "pair")]:
        ok, out = check(ch02.check_lstm_step_concat, fn, capsys)
        assert not ok and words in out, out


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

    for fn, words in [(as_list, "torch.stack"), (batch_first, "time-major"), (off_by_one, "initial h"),
                      (first_state, "after the last step"), (lambda *a: None, "return (out")]:
        ok, out = check(ch03.check_lstm_layer_loop, fn, capsys)
        assert not ok and words in out, out


def test_other_dtypes_get_an_answer_not_a_crash(capsys):
    # a float64 result is judged on its values (right here), an int result gets a hint
    ok, out = check(ch02.check_lstm_step_concat, lambda *a: tuple(t.double() for t in step_right(*a)), capsys)
    assert ok, out
    ok, out = check(ch02.check_lstm_step_concat, lambda *a: tuple(t.long() for t in step_right(*a)), capsys)
    assert not ok and "wrong values" in out
    ok, out = check(ch03.check_lstm_layer_loop,
                    lambda *a: (lambda r: (r[0].double(), r[1]))(loop_right(*a)), capsys)
    assert ok, out
    ok, out = check(ch01.check_rnn_step_jacobian, lambda h, w: jacobian_right(h, w).float(), capsys)
    assert ok, out  # float32 rounding is within the tolerance


def test_wrong_containers_and_devices_get_hints(capsys):
    # a tuple of tensors instead of one stacked tensor, and a bare tensor where the pair (h_T, c_T) belongs
    ok, out = check(ch03.check_lstm_layer_loop, lambda *a: (tuple(loop_right(*a)[0]), loop_right(*a)[1]), capsys)
    assert not ok and "torch.stack" in out, out
    ok, out = check(ch03.check_lstm_layer_loop, lambda *a: (loop_right(*a)[0], loop_right(*a)[1][0]), capsys)
    assert not ok and "pair (h_T, c_T)" in out, out
    ok, out = check(ch02.check_lstm_step_concat, lambda *a: torch.stack(step_right(*a)), capsys)
    assert not ok and "pair" in out, out
    # values that cannot be compared on the CPU, or are complex: a hint, not a crash
    ok, out = check(ch01.check_rnn_step_jacobian, lambda h, w: jacobian_right(h, w).to("meta"), capsys)
    assert not ok and "meta tensor with no values" in out, out
    ok, out = check(ch01.check_rnn_step_jacobian, lambda h, w: jacobian_right(h, w) * (1 + 0j), capsys)
    assert not ok and "complex" in out, out
    ok, out = check(ch02.check_lstm_step_concat, lambda *a: tuple(t.to("meta") for t in step_right(*a)), capsys)
    assert not ok and "meta tensor with no values" in out, out
    ok, out = check(ch03.check_lstm_layer_loop, lambda *a: (loop_right(*a)[0].to("meta"), loop_right(*a)[1]), capsys)
    assert not ok and "meta tensor with no values" in out, out
