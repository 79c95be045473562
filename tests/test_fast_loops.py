"""The fast layers' two time loops (compiled C++ and Python) agree, and a failed build falls back
to the Python loops with a one-line notice."""

import os
import subprocess
import sys

import pytest
import torch

from lstm_edu import LSTM, HyperLSTM
from lstm_edu.fast import FastHyperLSTM, FastLSTM, compiled

needs_compiled = pytest.mark.skipif(compiled.build() is None,
                                    reason="the compiled loops did not build here (no compiler?)")


def pair(kind, dtype, n_x=9, n_h=40, n_hat=24, n_z=4):
    torch.manual_seed(0)
    ref = LSTM(n_x, n_h, 2) if kind == "lstm" else HyperLSTM(n_x, n_h, n_hat, n_z, 2)
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.2 * torch.randn_like(p))
    fast = FastLSTM(n_x, n_h, 2) if kind == "lstm" else FastHyperLSTM(n_x, n_h, n_hat, n_z, 2)
    fast.load_state_dict(ref.state_dict())
    return ref.to(dtype), fast.to(dtype)


def outputs_and_grads(model, x):
    model.zero_grad()
    x = x.clone().requires_grad_()
    out, final = model(x)
    (out.sin().sum() + sum((s * s).sum() for s in final)).backward()
    return [out, *final, x.grad] + [p.grad for p in model.parameters()]


@needs_compiled
@pytest.mark.parametrize("kind", ["lstm", "hyper"])
def test_compiled_and_python_loops_agree(kind):
    """float64, 300 examples: enough rows that the compiled loops split them between threads."""
    _, fast = pair(kind, torch.float64)
    x = torch.randn(7, 300, 9, dtype=torch.float64)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        got = outputs_and_grads(fast, x)
        compiled.use_compiled(False)
        want = outputs_and_grads(fast, x)
    finally:
        compiled.use_compiled(True)
        torch.set_num_threads(threads)
    for a, b in zip(got, want):
        assert (a - b).abs().max().item() <= 1e-10 * max(1.0, b.abs().max().item())


@needs_compiled
def test_describe_names_the_loops():
    assert compiled.describe().startswith("compiled C++ loops")
    compiled.use_compiled(False)
    try:
        assert compiled.describe().startswith("Python loops")
        assert compiled.loops_for(torch.zeros(1)) is None
    finally:
        compiled.use_compiled(True)
    assert compiled.loops_for(torch.zeros(1)) is compiled.build()


FALLBACK = """
import torch
from lstm_edu import HyperLSTM, LSTM
from lstm_edu.fast import FastHyperLSTM, FastLSTM, compiled
torch.manual_seed(0)
for ref, fast in ((LSTM(5, 7, 2), FastLSTM(5, 7, 2)),
                  (HyperLSTM(5, 7, 4, 3, 2), FastHyperLSTM(5, 7, 4, 3, 2))):
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(6, 3, 5)
    diffs = []
    for model in (ref, fast):
        out = model(x)[0]
        out.sum().backward()
        diffs.append([out] + [p.grad for p in model.parameters()])
    print(max(((a - b).abs().max() / b.abs().max().clamp_min(1)).item() for a, b in zip(*diffs)))
print(compiled.describe())
"""


def test_a_failed_build_falls_back_with_a_one_line_notice(tmp_path):
    """A compiler that does not exist (``CXX``) and an empty cache: the build fails, one line on
    stderr says so, and the Python loops compute the reference's results."""
    env = dict(os.environ, CXX=str(tmp_path / "no-such-compiler"),
               LSTM_EDU_CACHE=str(tmp_path / "cache"), LSTM_EDU_COMPILED="1")
    res = subprocess.run([sys.executable, "-c", FALLBACK], env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    notices = [line for line in res.stderr.splitlines() if line.startswith("lstm_edu.fast:")]
    assert len(notices) == 2, res.stderr  # "compiling ... once", then the failure
    assert "could not build the compiled loops" in notices[1]
    assert "using the pure-PyTorch loops" in notices[1]
    *diffs, described = res.stdout.strip().splitlines()
    assert all(float(d) < 1e-5 for d in diffs), diffs
    assert described.startswith("Python loops (the compiled loops did not build")


def test_a_build_lock_left_by_a_killed_build_does_not_hang_the_next_one(tmp_path):
    """PyTorch's lock file in the build folder, as a build killed half-way leaves it: the next
    build removes it with a notice instead of waiting for it forever (here the build then fails
    for want of a compiler, and the Python loops run)."""
    env = dict(os.environ, CXX=str(tmp_path / "no-such-compiler"),
               LSTM_EDU_CACHE=str(tmp_path / "cache"), LSTM_EDU_COMPILED="1")
    folder = subprocess.run([sys.executable, "-c", "from lstm_edu.fast import compiled; "
                             "print(compiled.cache_dir())"], env=env, capture_output=True,
                            text=True, timeout=120).stdout.strip()
    os.makedirs(folder)
    open(os.path.join(folder, "lock"), "w").close()
    res = subprocess.run([sys.executable, "-c", FALLBACK], env=env, capture_output=True,
                         text=True, timeout=240)
    assert res.returncode == 0, res.stderr
    assert "left by a build that did not finish" in res.stderr
    assert not os.path.exists(os.path.join(folder, "lock"))


@needs_compiled
def test_compiled_forward_is_the_python_forward_bit_for_bit():
    """At these small sizes the compiled HyperLSTM loop rounds exactly as the Python loop (the same
    matrix multiplies, layer-norm statistics, fused multiply-adds, exp and tanh): the gradients of
    a deep float32 HyperLSTM move by more than one rounding error when an input moves by one."""
    torch.manual_seed(0)
    model = FastHyperLSTM(5, 7, 4, 3, 3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    x = torch.randn(6, 3, 5)
    with torch.no_grad():
        got = model(x)
        compiled.use_compiled(False)
        try:
            want = model(x)
        finally:
            compiled.use_compiled(True)
    assert torch.equal(got[0], want[0])
    assert all(torch.equal(a, b) for a, b in zip(got[1], want[1]))


def test_a_wheel_carries_the_cpp_sources(tmp_path):
    """Readers install the package from a wheel (Colab): the compiled loops' sources must be in
    it, or every fast layer would fall back to the Python loops."""
    import shutil
    import zipfile

    root, copy = compiled.CSRC.parents[2], tmp_path / "project"  # build outside the checkout
    shutil.copytree(root / "lstm_edu", copy / "lstm_edu",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, copy / name)
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "-q", "-w", str(tmp_path), str(copy)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for source in compiled.SOURCES + compiled.HEADERS:
        assert f"lstm_edu/fast/csrc/{source.name}" in names


def test_the_buffer_pool_reuses_only_memory_that_nothing_holds():
    """A pooled buffer is handed out again once the tensors made from it are gone, and never
    while one of them (here a view) still holds its memory."""
    from lstm_edu.fast.buffers import BufferPool

    pool = BufferPool()
    if pool.free_count is None:
        pytest.skip("this PyTorch has no storage use count: the pool allocates every time")
    like = torch.zeros(1)
    a = pool.empty(like, 4, 5)
    first, held = a.data_ptr(), a[1:]  # the view holds the memory after `a` is gone
    del a
    b = pool.empty(like, 4, 5)
    assert b.data_ptr() != first  # the first buffer is still in use: a new one
    second = b.data_ptr()
    del held, b
    c = pool.empty(like, 2, 3)
    assert c.shape == (2, 3) and c.data_ptr() in (first, second)  # both free: one of them
    d = pool.empty(like, 4, 5)
    assert {c.data_ptr(), d.data_ptr()} == {first, second}


@pytest.mark.parametrize("cls", [FastLSTM, FastHyperLSTM])
def test_training_steps_use_the_same_buffers_again(cls):
    """After the first training step, the fast layers' large buffers (the forward pass's
    tensors that the backward pass reads, the backward pass's scratch) are the pool's buffers of
    earlier steps: no step allocates new ones. (In the benchmark's loop at its size a
    FastHyperLSTM step took about 20,000 page faults without the pool and 64-212 with it: the
    memory of a fresh buffer is mapped page by page as it is first written.)"""
    from lstm_edu.fast.buffers import POOL

    if POOL.free_count is None:
        pytest.skip("this PyTorch has no storage use count: the pool allocates every time")
    torch.manual_seed(0)
    model = cls(9, 40, 2) if cls is FastLSTM else cls(9, 40, 24, 4, 2)
    x = torch.randn(7, 5, 9)
    POOL.clear()
    model(x)[0].sum().backward()
    kept = [b.data_ptr() for b in POOL.buffers[(x.device, x.dtype)]]
    for _ in range(3):
        model.zero_grad()
        model(x)[0].sum().backward()
    assert kept and [b.data_ptr() for b in POOL.buffers[(x.device, x.dtype)]] == kept


def blocked_sum(x, w, kc):
    """``x w^T`` in ``panel_mm``'s order, in float64 arithmetic rounded to float32 after every
    operation: per output, blocks of ``kc`` terms, each a chain of fused multiply-adds from 0
    (the product of two float32 numbers is exact in float64), the blocks added in turn. (Rounding
    a float64 sum to float32 can, rarely, differ from one rounding of the exact sum; with these
    seeds it does not.)"""
    x, w = x.double(), w.double()
    y = torch.zeros(x.shape[0], w.shape[0], dtype=torch.float64)
    for k0 in range(0, x.shape[1], kc):
        acc = torch.zeros_like(y)
        for k in range(k0, min(k0 + kc, x.shape[1])):
            acc = (x[:, k:k + 1] * w[:, k] + acc).float().double()
        y = (y + acc).float().double()
    return y.float()


@needs_compiled
@pytest.mark.parametrize("M, K, N, kc", [(5, 40, 37, 16), (9, 24, 70, 24), (4, 300, 33, 128)])
def test_panel_mm_adds_in_blocks_of_kc(M, K, N, kc):
    """The kernel's order, whatever the BLAS library: rows past a multiple of 4, columns past
    a whole panel (the zero padding must not show), and a last block shorter than ``kc``."""
    from lstm_edu.fast.matmul import Panels

    loops = compiled.build()
    torch.manual_seed(0)
    x, w = torch.randn(M, K), torch.randn(N, K)
    y = torch.empty(M, N)
    loops.panel_mm(y, x, Panels(w, loops.panel_width(w), kc).tensor, kc)
    assert torch.equal(y, blocked_sum(x, w, kc))


@needs_compiled
def test_panel_mm_reads_and_writes_rows_with_strides_and_checks_its_arguments():
    """Rows of ``x`` and ``y`` further apart than their length (views of wider tensors: the
    columns in between stay as they were); panels packed for another width, or for another
    number of columns, are an error that says what was expected."""
    from lstm_edu.fast.matmul import Panels

    loops = compiled.build()
    torch.manual_seed(0)
    wide_x, w = torch.randn(6, 50), torch.randn(21, 40)
    x = wide_x[:, 5:45]
    wide_y = torch.zeros(6, 30)
    y = wide_y[:, 3:24]
    width = loops.panel_width(w)
    loops.panel_mm(y, x, Panels(w, width, 40).tensor, 40)
    assert torch.equal(y, blocked_sum(x, w, 40))
    assert not wide_y[:, :3].any() and not wide_y[:, 24:].any()
    with pytest.raises(RuntimeError, match="expected panels"):
        loops.panel_mm(y, x, Panels(w, 2 * width, 40).tensor, 40)
    with pytest.raises(RuntimeError, match="expected panels"):
        loops.panel_mm(torch.empty(6, 3 * width), x, Panels(w, width, 40).tensor, 40)
    with pytest.raises(RuntimeError, match="contiguous rows"):
        loops.panel_mm(y, x.t(), Panels(w, width, 40).tensor, 40)


@needs_compiled
@pytest.mark.parametrize("K, N", [(256, 1280), (1280, 256), (256, 1024), (1024, 256),
                                  (320, 64)])
def test_panels_give_torch_mm_bit_for_bit(K, N):
    """At one step's shapes of the benchmark (batch 32, N_h 256, N_ĥ 64), forward and back,
    on 2 threads: the block length that :class:`Panels` found on its probe gives ``torch.mm``'s
    result on other numbers too."""
    from lstm_edu.fast.matmul import Panels

    loops = compiled.build()
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(1)
        w = torch.randn(N, K)
        panels = Panels.for_loops(loops, w, 32)
        if panels is None:
            pytest.skip("torch.mm here adds in an order the panels kernel does not reproduce "
                        "(not MKL?): the loops call torch.mm")
        for _ in range(3):
            x = torch.randn(32, K)
            y = torch.empty(32, N)
            loops.panel_mm(y, x, panels.tensor, panels.kc)
            assert torch.equal(y, torch.mm(x, w.t()))
    finally:
        torch.set_num_threads(threads)


def test_one_row_or_no_compiled_loops_or_few_steps_means_torch_mm():
    """A single row is a vector times a matrix, which torch.mm computes another way: no panels;
    neither for the Python loops (``loops=None``), nor for a call of fewer steps than
    ``Panels.min_steps`` (packing would not pay back)."""
    from lstm_edu.fast.matmul import Panels

    w = torch.randn(64, 32)
    assert Panels.args(None, w, 8, 100) == (None, 0)
    if compiled.build() is not None:
        assert Panels.for_loops(compiled.build(), w, 1) is None
        assert Panels.args(compiled.build(), w, 8, Panels.min_steps - 1) == (None, 0)


@needs_compiled
@pytest.mark.parametrize("kind", ["lstm", "hyper"])
def test_panels_change_no_bit_of_a_training_step(kind, monkeypatch):
    """At the benchmark's sizes (batch 32, N_h 256, N_ĥ 64, N_z 16) on 2 threads, the compiled
    loops' outputs and every gradient are the same, bit for bit, with the per-step products done
    by :class:`~lstm_edu.fast.matmul.Panels` as with torch.mm."""
    from lstm_edu.fast import matmul

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        if matmul.Panels.for_loops(compiled.build(), torch.randn(1024, 256), 32) is None:
            pytest.skip("torch.mm here adds in an order the panels kernel does not reproduce")
        torch.manual_seed(0)
        model = (FastLSTM(32, 256, 2) if kind == "lstm"
                 else FastHyperLSTM(32, 256, 64, 16, 2))
        x = torch.randn(matmul.Panels.min_steps + 1, 32, 32)
        got = outputs_and_grads(model, x)
        monkeypatch.setattr(matmul.Panels, "for_loops", staticmethod(lambda *args: None))
        want = outputs_and_grads(model, x)
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(a, b) for a, b in zip(got, want))
