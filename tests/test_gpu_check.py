"""tools/gpu_check.py in its tiny mode on the CPU: the GPU check cannot rot while no GPU is at
hand."""

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import gpu_check

ROOT = Path(__file__).resolve().parent.parent


def test_tiny_gpu_check_writes_its_report(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "tools" / "gpu_check.py"), "--tiny",
                          "--device", "cpu", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    report = (tmp_path / "gpu_check.md").read_text()
    assert res.returncode == 0, report + res.stderr
    assert report.startswith("# GPU check: all parts passed")
    for part in ("Environment", "Tests on cpu", "Compiled pointwise step", "Benchmark rows"):
        assert f"| {part} | ok |" in report
    assert " passed" in report and " failed" not in report  # pytest's summary line
    for name in gpu_check.BENCH_MODELS[1:]:
        assert f"- {name} / torch.nn.LSTM (oneDNN): **" in report


def test_a_failing_part_is_reported_and_the_rest_still_runs():
    report = gpu_check.Report()

    def broken():
        raise RuntimeError("no GPU today")

    report.run("first", broken)
    report.run("second", lambda: (["fine"], True))
    text = report.markdown(SimpleNamespace(tiny=True, device="cpu"))
    assert text.startswith("# GPU check: SOME PARTS FAILED")
    assert "| first | FAILED |" in text and "| second | ok |" in text
    assert "RuntimeError: no GPU today" in text and "fine" in text
