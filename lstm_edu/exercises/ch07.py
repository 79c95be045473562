r"""Checkers for chapter 7 (the HyperLSTM from scratch).

``check_hyper_step(fn)``: the reader writes one HyperLSTM step with a
:class:`lstm_edu.HyperLSTMCell`'s parameters,
``fn(cell, x, h, c, h_hat, c_hat) -> (h, c, h_hat, c_hat)``, and it must match ``cell.forward``.
A wrong answer is compared with the usual mistakes (the paper's :math:`\hat{h}_{t-1}` typo, a
missing layer norm, a missing :math:`d_b`, ...) so the hint can say which one it is.
"""

from __future__ import annotations

from typing import Callable, Tuple

import torch

from ..models.hyper_lstm import HyperLSTMCell
from ..models.lstm import GATES
from . import Hint, attempt, compare, run_checker

States = Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def reference_hyper_step(cell: HyperLSTMCell, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                         h_hat: torch.Tensor, c_hat: torch.Tensor, *, typo: bool = False,
                         gate_norm: bool = True,
                         c_norm: bool = True, use_d_b: bool = True, scale: bool = True,
                         use_b_f: bool = True) -> States:
    r"""One HyperLSTM step written out equation by equation (the reference answer).

    The keyword flags make the usual mistakes on purpose (the checker uses them for its hints):
    ``typo`` computes :math:`z` from :math:`\hat{h}_{t-1}`, ``gate_norm``/``c_norm`` switch the
    layer norms off, ``use_d_b=False`` drops the bias :math:`d_b`, ``scale=False`` drops :math:`d_h,
    d_x`, ``use_b_f=False`` forgets the forget bias :math:`b_f`.
    """
    # the hyper cell reads x̂_t = [h_{t-1}; x_t]
    h_hat_new, c_hat_new = cell.hyper(torch.cat([h, x], dim=-1), h_hat, c_hat)  # [B, hyper_size]
    source = h_hat if typo else h_hat_new  # the paper's typo: ĥ_{t-1} instead of ĥ_t
    z_h = cell.z_h(source).chunk(4, dim=-1)  # 4 x [B, N_z]
    z_x = cell.z_x(source).chunk(4, dim=-1)
    z_b = cell.z_b(source).chunk(4, dim=-1)
    gates = []
    for k in range(len(GATES)):
        d_h = cell.d_h[k](z_h[k])  # [B, N_h]
        d_x = cell.d_x[k](z_x[k])
        d_b = cell.d_b[k](z_b[k])
        wh = h @ cell.w_h[k].T  # W_h^k h: [B, N_h]
        wx = x @ cell.w_x[k].T  # W_x^k x: [B, N_h]
        y = (d_h * wh + d_x * wx) if scale else (wh + wx)
        if use_d_b:
            y = y + d_b
        gates.append(cell.layer_norm[k](y) if gate_norm else y)
    i, f, g, o = gates
    if use_b_f:
        f = f + cell.forget_bias  # b_f, after the layer norm
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(cell.layer_norm_c(c_new) if c_norm else c_new)
    return h_new, c_new, h_hat_new, c_hat_new


_MISTAKES = (
    (dict(typo=True), "z_h, z_x, z_b must come from the hyper cell's *new* output ĥ_t (run "
                      "cell.hyper first); "
                      "ĥ_{t-1} is the paper's typo"),
    (dict(gate_norm=False), "each gate's pre-activation goes through its own layer norm: "
                            "cell.layer_norm[k](...)"),
    (dict(c_norm=False), "h_t = σ(o_t) ⊙ tanh(LN(c_t)): apply cell.layer_norm_c to c_t inside tanh "
                         "(not to the c_t you return)"),
    (dict(use_d_b=False), "the bias is generated too: add d_b = cell.d_b[k](z_b[k]) to each gate's "
                          "pre-activation"),
    (dict(use_b_f=False), "the forget gate gets the constant b_f = cell.forget_bias after its "
                          "layer norm: σ(f_t + b_f)"),
    (dict(scale=False), "W_hd h and W_xd x must be scaled by d_h = cell.d_h[k](z_h[k]) and d_x = "
                        "cell.d_x[k](z_x[k])"),
)


def _test_cell(seed: int = 7) -> HyperLSTMCell:
    """A small cell with every parameter random, so every mistake changes the answer."""
    torch.manual_seed(seed)
    cell = HyperLSTMCell(input_size=3, hidden_size=5, hyper_size=4, n_z=2)  # b_f = 1
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return cell


def _all_close(got, want) -> bool:
    """Every tensor in ``got`` has the shape and (within tolerance) the values of the one in
    ``want``."""
    return all(isinstance(gv, torch.Tensor) and gv.shape == wv.shape
               and torch.allclose(gv.detach().float(), wv, atol=1e-5, rtol=1e-4)
               for gv, wv in zip(got, want))


def check_hyper_step(fn: Callable[..., States]) -> bool:
    """Check ``fn(cell, x, h, c, h_hat, c_hat) -> (h, c, h_hat, c_hat)`` against ``cell.forward``.

    Prints ✅ or ❌ with a hint; returns whether it passed.
    """

    def body() -> None:
        cell = _test_cell()
        g = torch.Generator().manual_seed(7)
        batch = 2
        x = torch.randn(batch, cell.input_size, generator=g)
        h = torch.randn(batch, cell.hidden_size, generator=g)
        c = torch.randn(batch, cell.hidden_size, generator=g)
        h_hat = torch.randn(batch, cell.hyper_size, generator=g)
        c_hat = torch.randn(batch, cell.hyper_size, generator=g)
        with torch.no_grad():
            want = cell(x, h, c, h_hat, c_hat)
            got = attempt(fn, cell, x, h, c, h_hat, c_hat, what="your step")
        if not isinstance(got, (tuple, list)) or len(got) != 4:
            raise Hint("return the four new states as a tuple (h, c, h_hat, c_hat)")
        if _all_close(got[2:], want[:1:-1]) and not _all_close(got[2:], want[2:]):
            raise Hint("h_hat and c_hat are swapped: LSTMCell returns (h, c), so the step returns "
                       "(h, c, h_hat, c_hat)")
        for name, gv, wv in zip(("h_hat", "c_hat"), got[2:], want[2:]):
            compare(f"the returned {name}", gv, wv,
                    hint="the hyper cell reads x̂_t = [h_{t-1}; x_t] (h first): "
                         "cell.hyper(torch.cat([h, x], -1), h_hat, c_hat)")
        for name, gv, wv in zip(("h", "c"), got[:2], want[:2]):
            if not isinstance(gv, torch.Tensor):
                raise Hint(f"the returned {name} should be a torch.Tensor, got {type(gv).__name__}")
            if gv.shape != wv.shape:
                raise Hint(f"the returned {name} should have shape {list(wv.shape)} ([B, "
                           f"hidden_size]), got {list(gv.shape)}")
        if _all_close(got[:2], want[:2]):
            return
        if _all_close(got[:2], want[1::-1]):
            raise Hint("h and c are swapped: return (h, c, h_hat, c_hat), the new hidden state "
                       "first")
        with torch.no_grad():  # wrong values: is it one of the usual mistakes?
            for flags, hint in _MISTAKES:
                wrong = reference_hyper_step(cell, x, h, c, h_hat, c_hat, **flags)
                if _all_close(got[:2], wrong[:2]):
                    raise Hint(hint)
        generic = ("gate k's pre-activation is d_h ⊙ (W_hd h) + d_x ⊙ (W_xd x) + d_b, "
                   "layer-normalised, in gate order "
                   "i, f, g, o; then c_t = σ(f) ⊙ c + σ(i) ⊙ tanh(g) and h_t = σ(o) ⊙ "
                   "tanh(LN_c(c_t))")
        compare("the returned c", got[1], want[1], hint=generic)
        compare("the returned h", got[0], want[0], hint=generic)

    return run_checker("one HyperLSTM step", body)


__all__ = ["check_hyper_step", "reference_hyper_step"]
