"""Chapter 6's checker: the right answer passes, wrong attempts get a hint, nothing crashes."""

import torch

from lstm_edu import explicit_matvec, weight_tensor_from_row_scaling
from lstm_edu.exercises import ch06


def test_ch06_checker(capsys):
    assert ch06.check_row_scaling(ch06.reference_row_scaling)
    assert not ch06.check_row_scaling(lambda w_hd, w_dz, z, h: h @ w_hd.T)

    def stub(w_hd, w_dz, z, h):
        raise NotImplementedError

    assert not ch06.check_row_scaling(stub)
    assert not ch06.check_row_scaling(
        lambda w_hd, w_dz, z, h: explicit_matvec(weight_tensor_from_row_scaling(w_hd, w_dz), z, h))
    # an answer that breaks only when its inputs require gradients gets a hint, not a traceback
    assert not ch06.check_row_scaling(
        lambda w_hd, w_dz, z, h: torch.from_numpy((z.numpy() @ w_dz.numpy().T)
                                                  * (h.numpy() @ w_hd.numpy().T)))
    # a right answer computed in float64 is not mistaken for one that builds W_h
    assert ch06.check_row_scaling(
        lambda w_hd, w_dz, z, h: (z.double() @ w_dz.double().T) * (h.double() @ w_hd.double().T))
    assert not ch06.check_row_scaling(lambda w_hd, w_dz, z, h: None)
    out = capsys.readouterr().out
    assert "unscaled" in out and "NotImplementedError" in out and "bytes" in out
    assert "require gradients" in out and "NoneType" in out
    assert "Traceback" not in out
