"""Execute the book's notebooks in a fresh kernel and store outputs and widget state in place.

    python tools/execute.py                                  # every notebook in _toc.yml
    python tools/execute.py book/02_lstm_cell.ipynb --size quick --device cpu
    make execute NB="book/02_lstm_cell.ipynb" SIZE=full DEVICE=cuda

Each notebook runs top to bottom in a new kernel started in the notebook's folder, with
``LSTM_EDU_SIZE`` and ``LSTM_EDU_DEVICE`` set from ``--size`` and ``--device``; the notebook's own
settings cell seeds the generators (``settings.seed_everything(0)``), so checked outputs reproduce
on the same device. The saved widget state lets the built book render widgets without a kernel.
A notebook whose run raises (outside cells tagged ``raises-exception``) is left untouched and the
script exits 1.

The notebook's metadata keeps how long its run took and where, one record per size and device
(``lstm_edu.runs``, e.g. ``"quick/cpu"``; a run at another size leaves the others' records), and
which of them the stored outputs come from (``lstm_edu.stored``). The teaching page reads them.

Only nbformat, nbclient and ipykernel are needed (no Jupyter server, no nbconvert, no PyYAML), so it
also runs on a GPU machine that has torch but no Jupyter: see tools/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import platform
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import booktoc  # noqa: E402

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def widget_views(nb) -> list[str]:
    """The model ids of the widget views the notebook's outputs display."""
    ids = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view:
                ids.append(view["model_id"])
    return ids


def stable_widget_ids(nb, name: str):
    """Replace the random widget model ids by ids derived from the notebook's name and the order the
    widgets were created in, so that re-executing a chapter does not rewrite every id in the
    diff."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    if not state:
        return nb
    text = nbformat.writes(nb)
    for k, old in enumerate(list(state)):
        new = hashlib.sha1(f"{name}:{k}".encode()).hexdigest()[:32]
        text = text.replace(old, new)
    return nbformat.reads(text, as_version=4)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


SLOW_CELL_S = 1.0  # cells that take at least this long are named in the run record


def run_record(seconds: float, cell_seconds: dict | None = None) -> dict:
    """Where and how long this process's kernels ran: the size and device the chapters resolve
    from ``LSTM_EDU_SIZE``/``LSTM_EDU_DEVICE`` (through ``lstm_edu.settings``), the device's name,
    the CPU cores, torch's version, the date, whether it was Colab, and the cells (by id) that
    took at least ``SLOW_CELL_S`` seconds."""
    try:
        import torch

        from lstm_edu import settings

        size, device = settings.SIZE, settings.DEVICE
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
        size, device, version = str(size), str(device), torch.__version__
    except Exception:  # not importable here: say what was asked for
        size = os.environ.get("LSTM_EDU_SIZE") or "auto"
        device = os.environ.get("LSTM_EDU_DEVICE") or "auto"
        name, version = "unknown", "unknown"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"size": size, "device": device, "device_name": name, "cpu_cores": cores,
            "torch": version, "colab": "COLAB_RELEASE_TAG" in os.environ,
            "seconds": round(seconds, 1), "date": datetime.date.today().isoformat(),
            "slow_cells": {k: round(v, 1) for k, v in (cell_seconds or {}).items()
                           if v >= SLOW_CELL_S}}


_CACHED = re.compile(r"run cache that had taken (?:(\d+) min )?([\d.]+) s to train")


def closing_text(nb) -> str:
    """What the chapter's last code cell printed: its closing line (``settings.closing_line``)."""
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    return "".join(o.get("text", "") for c in cells[-1:] for o in c.outputs
                   if o.output_type == "stream")


def cached_training_seconds(nb) -> float:
    """How long the trained runs this execution loaded from the run cache had taken to train, as
    the chapter's closing line says; 0 if none."""
    match = _CACHED.search(closing_text(nb))
    return 60 * int(match.group(1) or 0) + float(match.group(2)) if match else 0.0


def record_run(nb, seconds: float, cell_seconds: dict | None = None) -> dict:
    """Store this run's record in the notebook's metadata, keeping the other sizes' and devices'.
    ``cached_training_s``: the training time the run cache saved (see
    :func:`cached_training_seconds`), so the record also tells the cost on a fresh machine."""
    record = run_record(seconds, cell_seconds)
    record["cached_training_s"] = round(cached_training_seconds(nb), 1)
    key = f"{record['size']}/{record['device'].split(':')[0]}"
    meta = nb.metadata.setdefault("lstm_edu", {})
    meta.setdefault("runs", {})[key] = record
    meta["stored"] = key
    return record


def execute(path: Path, timeout: int, kernel: str) -> float:
    """Run ``path`` in a fresh kernel and write it back; return the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    started, cell_seconds = {}, {}

    def cell_start(cell, cell_index, **_):
        started[cell_index] = time.perf_counter()

    def cell_done(cell, cell_index, **_):
        cell_seconds[cell.get("id", str(cell_index))] = time.perf_counter() - started[cell_index]

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        resources={"metadata": {"path": str(path.parent)}},  # the kernel's working directory
        store_widget_state=True,
        record_timing=False,  # no per-cell timestamps: they would change on every run
        on_cell_execute=cell_start,  # instead, the slow cells' durations go into the run record
        on_cell_executed=cell_done,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    views = widget_views(nb)
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    missing = [v for v in views if v not in state]
    if missing:
        raise RuntimeError(f"{path}: widget state not saved for {len(missing)} of {len(views)} "
                           "widget views")
    record_run(nb, seconds, cell_seconds)
    nbformat.write(stable_widget_ids(nb, path.name), path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook in the toc")
    ap.add_argument("--size", choices=["quick", "medium", "full"], help="LSTM_EDU_SIZE for the "
                                                                        "kernel (default: unset, "
                    "which means full on a CUDA machine and quick otherwise)")
    ap.add_argument("--device", help="LSTM_EDU_DEVICE for the kernel: cpu, cuda, cuda:1, ... "
                                     "(default: auto)")
    ap.add_argument("--no-cache", action="store_true", help="train every run again: "
                                                            "LSTM_EDU_CACHE=off for "
                    "the kernel (default: trained runs are loaded from the run cache when stored)")
    ap.add_argument("--toc", help="table of contents (default: $BOOK_TOC or _toc.yml)")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell (default "
                                                              "3600)")
    ap.add_argument("--kernel", default="python3", help="kernel name (default python3: this "
                                                        "interpreter)")
    args = ap.parse_args(argv)

    if args.size:
        os.environ["LSTM_EDU_SIZE"] = args.size
    if args.device:
        os.environ["LSTM_EDU_DEVICE"] = args.device
    if args.no_cache:
        os.environ["LSTM_EDU_CACHE"] = "off"
    paths = [p.resolve() for p in args.notebooks] if args.notebooks else booktoc.notebooks(args.toc)
    print(f"LSTM_EDU_SIZE={os.environ.get('LSTM_EDU_SIZE', '(auto)')} "
          f"LSTM_EDU_DEVICE={os.environ.get('LSTM_EDU_DEVICE', '(auto)')} "
          f"LSTM_EDU_CACHE={os.environ.get('LSTM_EDU_CACHE', '(default)')}", flush=True)
    failed = []
    for path in paths:
        shown = path.relative_to(booktoc.ROOT) if path.is_relative_to(booktoc.ROOT) else path
        print(f"{shown} ...", end=" ", flush=True)
        try:
            seconds = execute(path, args.timeout, args.kernel)
        except CellExecutionError as e:
            print("FAILED (notebook left unchanged)")
            print(str(e)[-3000:], file=sys.stderr)
            failed.append(path)
            continue
        except RuntimeError as e:
            print(f"FAILED: {e}")
            failed.append(path)
            continue
        print(f"{seconds:.1f} s", flush=True)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(p.name for p in failed)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
