"""FastLSTM and FastHyperLSTM are drop-in replacements: same parameters, outputs and gradients."""

import copy

import pytest
import torch

from lstm_edu import LSTM, HyperLSTM
from lstm_edu.fast import FastHyperLSTM, FastLSTM

N_x, N_h, N_hat, N_z, T, B = 5, 7, 4, 3, 6, 3

PAIRS = {
    "lstm": (lambda n: LSTM(N_x, N_h, n), FastLSTM, (N_h, N_h)),
    "hyper": (
        lambda n: HyperLSTM(N_x, N_h, N_hat, N_z, n),
        FastHyperLSTM,
        (N_h, N_h, N_hat, N_hat),
    ),
}
# Options beyond the defaults (forget bias: 0 for the LSTM, the authors' 1.0 for the HyperLSTM)
OPTIONS = {
    "lstm, forget_bias=1": ("lstm", dict(forget_bias=1.0)),
    "lstm, layer_norm, forget_bias=1": ("lstm", dict(layer_norm=True, forget_bias=1.0)),
    "hyper, forget_bias=0": ("hyper", dict(forget_bias=0.0)),
    "hyper, no layer_norm, forget_bias=1.5": ("hyper", dict(layer_norm=False, forget_bias=1.5)),
}


def make_pair(kind, n_layers, dtype=torch.float32, seed=0, **options):
    """A reference module with perturbed (non-initial) parameters and a Fast copy of it."""
    build_ref, fast_cls, sizes = PAIRS[kind]
    torch.manual_seed(seed)
    args = (N_x, N_h, n_layers) if kind == "lstm" else (N_x, N_h, N_hat, N_z, n_layers)
    ref = type(build_ref(1))(*args, **options) if options else build_ref(n_layers)
    with (
        torch.no_grad()
    ):  # move away from the special initial values (z weights 0, d constant, ...)
        for p in ref.parameters():
            p.add_(0.2 * torch.randn_like(p))
    ref = ref.to(dtype)
    fast = fast_cls(*args, **options).to(dtype)
    fast.load_state_dict(ref.state_dict())
    return ref, fast, sizes


def run(model, x, state):
    """Outputs, final state and every gradient (input, given state, parameters) of a loss that
    uses the output and every final state tensor."""
    model.zero_grad()
    x = x.clone().requires_grad_()
    state = None if state is None else tuple(s.clone().requires_grad_() for s in state)
    out, final = model(x, state)
    loss = out.sin().sum() + sum((0.5 + k) * (s * s).sum() for k, s in enumerate(final))
    loss.backward()
    grads = [x.grad] + ([] if state is None else [s.grad for s in state])
    named = {n: p.grad for n, p in model.named_parameters()}
    return [out, *final], grads, named


def assert_close(got, want, tol, what):
    scale = max(1.0, want.abs().max().item())
    diff = (got - want).abs().max().item()
    assert diff <= tol * scale, f"{what}: largest difference {diff:.3g} (scale {scale:.3g})"


@pytest.mark.parametrize("kind", ["lstm", "hyper"])
@pytest.mark.parametrize("n_layers", [1, 3])
@pytest.mark.parametrize("given_state", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fast_equals_reference(kind, n_layers, given_state, dtype):
    ref, fast, sizes = make_pair(kind, n_layers, dtype)
    torch.manual_seed(1)
    x = torch.randn(T, B, N_x, dtype=dtype)
    state = tuple(torch.randn(n_layers, B, s, dtype=dtype) for s in sizes) if given_state else None
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    (outs_r, grads_r, named_r), (outs_f, grads_f, named_f) = run(ref, x, state), run(fast, x, state)
    for k, (a, b) in enumerate(zip(outs_f, outs_r)):
        assert a.shape == b.shape
        assert_close(a, b, tol, f"output {k}")
    for k, (a, b) in enumerate(zip(grads_f, grads_r)):
        assert_close(a, b, tol, f"input/state gradient {k}")
    assert named_f.keys() == named_r.keys()
    for name in named_r:
        assert named_f[name] is not None, f"{name} got no gradient"
        assert_close(named_f[name], named_r[name], tol, f"gradient of {name}")


@pytest.mark.parametrize("name", list(OPTIONS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fast_equals_reference_with_options(name, dtype):
    """The forget bias is packed into a bias of the fast layers (the f gate's layer-norm bias, or
    b_0^f): the same numbers and gradients as the reference, which adds it after the layer norm;
    a layer-normalised LSTM runs the reference loop."""
    kind, options = OPTIONS[name]
    ref, fast, sizes = make_pair(kind, 2, dtype, **options)
    assert all(cell.forget_bias == options["forget_bias"] for cell in fast.cells)
    torch.manual_seed(1)
    x = torch.randn(T, B, N_x, dtype=dtype)
    state = tuple(torch.randn(2, B, s, dtype=dtype) for s in sizes)
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    (outs_r, grads_r, named_r), (outs_f, grads_f, named_f) = run(ref, x, state), run(fast, x, state)
    for k, (a, b) in enumerate(zip(outs_f, outs_r)):
        assert_close(a, b, tol, f"output {k}")
    for k, (a, b) in enumerate(zip(grads_f, grads_r)):
        assert_close(a, b, tol, f"input/state gradient {k}")
    for n in named_r:
        assert_close(named_f[n], named_r[n], tol, f"gradient of {n}")
    # and the bias matters: the same weights without it give other outputs
    other = dict(options, forget_bias=0.0 if options["forget_bias"] else 1.0)
    _, plain, _ = make_pair(kind, 2, dtype, **other)
    plain.load_state_dict(ref.state_dict())
    assert (plain(x, state)[0] - outs_r[0]).abs().max() > 1e-3


@pytest.mark.parametrize("kind", ["lstm", "hyper"])
def test_input_that_needs_no_gradient(kind):
    """Training data needs no gradient: the fast backward then skips dL/dx of the first layer
    (``needs_input_grad``), and every parameter's gradient is still the reference's."""
    ref, fast, _ = make_pair(kind, 2)
    torch.manual_seed(1)
    x = torch.randn(T, B, N_x)
    grads = []
    for model in (ref, fast):
        model.zero_grad()
        model(x)[0].sin().sum().backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    assert x.grad is None
    for name in grads[0]:
        assert_close(grads[1][name], grads[0][name], 1e-5, f"gradient of {name}")


@pytest.mark.parametrize("kind", ["lstm", "hyper"])
def test_unstacked_state_when_one_layer(kind):
    ref, fast, sizes = make_pair(kind, 1)
    x = torch.randn(T, B, N_x)
    state = tuple(torch.randn(B, s) for s in sizes)
    out_r, fin_r = ref(x, state)
    out_f, fin_f = fast(x, state)
    for a, b in zip(fin_f, fin_r):
        assert a.shape == b.shape == (B, a.shape[-1])
        assert_close(a, b, 1e-5, "final state")


@pytest.mark.parametrize("kind", ["lstm", "hyper"])
def test_state_dict_round_trip(kind):
    ref, fast, _ = make_pair(kind, 2)
    assert type(fast).__mro__[1] is type(ref)  # a subclass of the reference
    assert list(fast.state_dict().keys()) == list(ref.state_dict().keys())
    # fast -> a fresh reference, and back into a fresh fast module
    ref2 = copy.deepcopy(ref)
    for p in ref2.parameters():
        torch.nn.init.zeros_(p)
    ref2.load_state_dict(fast.state_dict())
    fast2 = copy.deepcopy(fast)
    for p in fast2.parameters():
        torch.nn.init.zeros_(p)
    fast2.load_state_dict(ref2.state_dict())
    x = torch.randn(T, B, N_x)
    assert torch.allclose(ref2(x)[0], fast2(x)[0], atol=1e-5)
    assert torch.equal(ref2(x)[0], ref(x)[0])


@pytest.mark.parametrize("kind", ["lstm", "hyper"])
def test_empty_sequence_returns_initial_state(kind):
    _, fast, sizes = make_pair(kind, 2)
    x = torch.randn(0, B, N_x)
    out, final = fast(x)
    assert out.shape == (0, B, N_h)
    assert all(torch.equal(s, torch.zeros(2, B, n)) for s, n in zip(final, sizes))
    state = tuple(torch.randn(2, B, n) for n in sizes)
    out, final = fast(x, state)
    assert out.shape == (0, B, N_h)
    assert all(torch.equal(a, b) for a, b in zip(final, state))


BAD_INPUTS = [
    ("rank", lambda: torch.randn(B, N_x), None),
    ("feature size", lambda: torch.randn(T, B, N_x + 1), None),
    ("integer input", lambda: torch.ones(T, B, N_x, dtype=torch.long), None),
    ("not a tensor", lambda: [[1.0] * N_x], None),
    ("wrong dtype", lambda: torch.randn(T, B, N_x, dtype=torch.float64), None),
    (
        "state shape",
        lambda: torch.randn(T, B, N_x),
        lambda sizes: tuple(torch.randn(2, B + 1, s) for s in sizes),
    ),
    (
        "state count",
        lambda: torch.randn(T, B, N_x),
        lambda sizes: tuple(torch.randn(2, B, s) for s in sizes[:-1]),
    ),
    (
        "state not a tuple",
        lambda: torch.randn(T, B, N_x),
        lambda sizes: torch.randn(2, B, sizes[0]),
    ),
]


@pytest.mark.parametrize("kind", ["lstm", "hyper"])
@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_same_errors_as_reference(kind, case):
    _, make_x, make_state = case
    ref, fast, sizes = make_pair(kind, 2)
    x = make_x()
    state = None if make_state is None else make_state(sizes)
    with pytest.raises((TypeError, ValueError)) as e_ref:
        ref(x, state)
    with pytest.raises(type(e_ref.value)) as e_fast:
        fast(x, state)
    assert str(e_fast.value) == str(e_ref.value)


@pytest.mark.parametrize("kind", ["lstm", "hyper"])
def test_constructor_errors_match(kind):
    build_ref, fast_cls, _ = PAIRS[kind]
    args = (N_x, 0, 2) if kind == "lstm" else (N_x, N_h, 0, N_z, 2)
    ref_cls = LSTM if kind == "lstm" else HyperLSTM
    with pytest.raises(ValueError) as e_ref:
        ref_cls(*args)
    with pytest.raises(ValueError) as e_fast:
        fast_cls(*args)
    assert str(e_fast.value) == str(e_ref.value)


def test_fast_lstm_matches_torch_lstm():
    torch.manual_seed(0)
    m = torch.nn.LSTM(N_x, N_h, 2)
    fast = FastLSTM(N_x, N_h, 2)
    fast.load_state_dict(LSTM.from_torch(m).state_dict())
    x = torch.randn(T, B, N_x)
    out_t, (h_t, c_t) = m(x)
    out_f, (h_f, c_f) = fast(x)
    for a, b in ((out_f, out_t), (h_f, h_t), (c_f, c_t)):
        assert_close(a, b, 1e-5, "vs torch.nn.LSTM")


def test_repeated_backward_and_no_grad():
    """Gradients accumulate over two backward passes like the reference's; no_grad works."""
    for kind in ("lstm", "hyper"):
        ref, fast, _ = make_pair(kind, 2)
        x = torch.randn(T, B, N_x)
        for m in (ref, fast):
            m.zero_grad()
            for _ in range(2):
                m(x)[0].sum().backward()
        for (n, a), b in zip(fast.named_parameters(), ref.parameters()):
            assert_close(a.grad, b.grad, 1e-5, n)
        with torch.no_grad():
            assert_close(fast(x)[0], ref(x)[0], 1e-5, "no_grad output")


def test_retain_graph_second_backward():
    for kind in ("lstm", "hyper"):
        ref, fast, _ = make_pair(kind, 2)
        x = torch.randn(T, B, N_x)
        for m in (ref, fast):
            m.zero_grad()
            out = m(x)[0].sum()
            out.backward(retain_graph=True)
            out.backward()
        for (n, a), b in zip(fast.named_parameters(), ref.parameters()):
            assert_close(a.grad, b.grad, 1e-5, n)


@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="compile_pointwise compiles only for CUDA; there is no CUDA device here",
)
def test_compile_pointwise_is_guarded():
    """With CUDA the switch turns the compiled step on and off again; CPU results are unchanged."""
    from lstm_edu import fast

    enabled = FastLSTM.compile_pointwise()
    try:
        assert enabled == (
            torch.cuda.is_available() and fast.LSTMLayerFunction.pointwise_cuda is not None
        )
        ref, fast_model, _ = make_pair("lstm", 2)
        x = torch.randn(T, B, N_x)
        assert_close(fast_model(x)[0], ref(x)[0], 1e-5, "output with compile_pointwise()")
    finally:
        FastLSTM.compile_pointwise(False)
    assert fast.LSTMLayerFunction.pointwise_cuda is None


def test_hyper_layer_function_gradcheck():
    """The hand-written backward of one HyperLSTM layer against finite differences (float64)."""
    from lstm_edu.fast import HyperLayerFunction, PackedHyperCell
    from lstm_edu.models.hyper_lstm import HyperLSTMCell

    torch.manual_seed(0)
    cell = HyperLSTMCell(3, 4, 2, 2).double()
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(0.2 * torch.randn_like(p))
    *weights, eps, hyper_eps = PackedHyperCell(cell).weights()
    T_, B_ = 3, 2
    inputs = [torch.randn(T_, B_, 3, dtype=torch.float64)] + [
        torch.randn(B_, n, dtype=torch.float64) for n in (4, 4, 2, 2)
    ]
    inputs += [w.detach().clone() for w in weights]
    inputs = [a.requires_grad_() for a in inputs]
    chunk, HyperLayerFunction.chunk = (
        HyperLayerFunction.chunk,
        2,
    )  # several chunks of the backward pass
    try:
        assert torch.autograd.gradcheck(
            lambda *a: HyperLayerFunction.apply(*a, eps, hyper_eps), inputs
        )
    finally:
        HyperLayerFunction.chunk = chunk


def test_taped_hyper_layer_gradients_equal_reference(monkeypatch):
    """hyper_layer, the autograd-taped middle version (W_h's gradient from a WeightTape, one
    matmul per sequence): its gradients with respect to the input, the initial state and every
    parameter equal the reference HyperLSTM's, in float64, with and without layer norm."""
    from torch import nn

    from lstm_edu.fast import PackedHyperCell, hyper_layer, hyper_tape
    from lstm_edu.models.hyper_lstm import HyperLSTMCell

    tapes = []

    class CountedTape(hyper_tape.WeightTape):  # the same tape, remembered so we can see it used
        def __init__(self, w):
            super().__init__(w)
            tapes.append(self)

    monkeypatch.setattr(hyper_tape, "WeightTape", CountedTape)
    n_layers, sizes = 2, (N_h, N_h, N_hat, N_hat)
    for layer_norm in (True, False):
        torch.manual_seed(3)
        ref = HyperLSTM(N_x, N_h, N_hat, N_z, n_layers)
        if not layer_norm:  # the paper's basic HyperLSTM cell; the reference loop runs any cell
            ref.cells = nn.ModuleList(
                [
                    HyperLSTMCell(N_x if n == 0 else N_h, N_h, N_hat, N_z, layer_norm=False)
                    for n in range(n_layers)
                ]
            )
        with torch.no_grad():  # away from the special initial values (z weights 0, d constant)
            for p in ref.parameters():
                p.add_(0.2 * torch.randn_like(p))
        ref = ref.double()
        taped = copy.deepcopy(ref)
        x = torch.randn(T, B, N_x, dtype=torch.float64)
        state = tuple(torch.randn(n_layers, B, n, dtype=torch.float64) for n in sizes)

        def gradients(model, forward):
            model.zero_grad()
            x_ = x.clone().requires_grad_()
            state_ = tuple(s.clone().requires_grad_() for s in state)
            out, final = forward(model, x_, state_)
            loss = out.sin().sum() + sum((0.5 + k) * (s * s).sum() for k, s in enumerate(final))
            loss.backward()
            named = {n: p.grad for n, p in model.named_parameters()}
            return [out, *final], [x_.grad, *(s.grad for s in state_)], named

        def taped_forward(model, x_, state_):
            out, final = x_, []
            for layer, cell in enumerate(model.cells):
                out, s = hyper_layer(PackedHyperCell(cell), out, *(s[layer] for s in state_))
                final.append(s)
            return out, tuple(torch.stack(t) for t in zip(*final))  # [L, B, size] each

        tapes.clear()
        want_vals, want_grads, want_named = gradients(ref, lambda m, a, s: m(a, s))
        got_vals, got_grads, got_named = gradients(taped, taped_forward)
        assert len(tapes) == n_layers and all(len(t.records.xs) == T for t in tapes)
        what = f"layer_norm={layer_norm}"
        for name, got, want in zip(("out", "h", "c", "h_hat", "c_hat"), got_vals, want_vals):
            assert_close(got, want, 1e-12, f"{what}, {name}")
        for name, got, want in zip(("x", "h0", "c0", "h_hat0", "c_hat0"), got_grads, want_grads):
            assert_close(got, want, 1e-10, f"{what}, d loss / d {name}")
        assert got_named.keys() == want_named.keys()
        for name, want in want_named.items():
            assert want is not None and got_named[name] is not None, (
                f"{what}: no gradient for {name}"
            )
            assert_close(got_named[name], want, 1e-10, f"{what}, d loss / d {name}")


def test_taped_hyper_layer_frees_its_graph(monkeypatch):
    """After backward, nothing keeps a training step's graph alive: the tape's recordings hold
    detached values, so the step's tensors go (a cycle through the graph leaked every step's
    graph, gigabytes over a training run)."""
    import gc
    import weakref

    from lstm_edu.fast import hyper_tape

    refs = []

    class Spy(hyper_tape.WeightTape):
        def matmul(self, x):
            refs.append(weakref.ref(x))
            return super().matmul(x)

    monkeypatch.setattr(hyper_tape, "WeightTape", Spy)
    model = FastHyperLSTM(N_x, N_h, N_hat, N_z, 1, layer_norm=False)
    out, _ = model(torch.randn(T, B, N_x))
    out.sum().backward()
    del out
    gc.collect()
    assert refs and all(r() is None for r in refs)
