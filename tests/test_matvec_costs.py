"""lstm_edu.analysis.matvec_costs: the explicit dynamic weight against row scaling."""

from lstm_edu.analysis.matvec_costs import matvec_costs, matvec_param_counts


def test_param_counts():
    assert matvec_param_counts(10, 4) == {"explicit": 400, "row_scaling": 140}


def test_matvec_costs_agree_and_save():
    c = matvec_costs(32, 4, 8, repeats=1)
    assert c["max_abs_diff"] < 1e-4
    assert c["explicit_params"] == 32 * 32 * 4 and c["row_scaling_params"] == 32 * 32 + 32 * 4
    # the explicit form keeps a [B, N_h, N_h] weight for backward, row scaling two [B, N_h] vectors
    assert c["explicit_saved_bytes"] >= 8 * 32 * 32 * 4
    assert c["row_scaling_saved_bytes"] <= 4 * 8 * 32 * 4
    assert c["explicit_seconds"] > 0 and c["row_scaling_seconds"] > 0
