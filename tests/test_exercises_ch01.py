"""Chapter 1's checker accepts the reference solution and answers wrong attempts with a hint."""

from checker_cases import assert_stubs_and_crashes_give_hints, check
from lstm_edu.exercises import ch01


def jacobian_right(h_t, w_hh):
    return (1 - h_t**2).unsqueeze(1) * w_hh


def test_reference_passes(capsys):
    ok, out = check(ch01.check_rnn_step_jacobian, jacobian_right, capsys)
    assert ok and out.startswith("✅")


def test_stubs_and_crashes_give_hints(capsys):
    assert_stubs_and_crashes_give_hints(ch01.check_rnn_step_jacobian, capsys)


def test_ch01_specific_hints(capsys):
    ok, out = check(ch01.check_rnn_step_jacobian, lambda h, w: w, capsys)
    assert not ok and "derivative" in out
    ok, out = check(ch01.check_rnn_step_jacobian, lambda h, w: w * (1 - h**2).unsqueeze(0), capsys)
    assert not ok and "columns" in out
    ok, out = check(ch01.check_rnn_step_jacobian, lambda h, w: ((1 - h**2).unsqueeze(1) * w).T,
                    capsys)
    assert not ok and "transpose" in out
    ok, out = check(ch01.check_rnn_step_jacobian, lambda h, w: w[:2], capsys)
    assert not ok and "shape" in out


def test_other_dtypes_get_an_answer_not_a_crash(capsys):
    ok, out = check(ch01.check_rnn_step_jacobian, lambda h, w: jacobian_right(h, w).float(), capsys)
    assert ok, out  # float32 rounding is within the tolerance


def test_wrong_devices_and_complex_values_get_hints(capsys):
    # values that cannot be compared on the CPU, or are complex: a hint, not a crash
    ok, out = check(ch01.check_rnn_step_jacobian, lambda h, w: jacobian_right(h, w).to("meta"),
                    capsys)
    assert not ok and "meta tensor with no values" in out, out
    ok, out = check(ch01.check_rnn_step_jacobian, lambda h, w: jacobian_right(h, w) * (1 + 0j),
                    capsys)
    assert not ok and "complex" in out, out
