"""A cache of training runs: train once, load the trained weights and history afterwards.

:func:`run` calls a training function such as :func:`lstm_edu.training.train.train_char_lm` as
``fn(model, *args, **kwargs)`` unless a run with exactly the same configuration is already stored;
then it loads the stored weights into ``model`` and returns the stored history instead. Re-executing
a chapter after a change to its prose therefore takes seconds, and one chapter can reuse the model
another one trained.

The key is computed from the whole configuration:

- the training function's module and name;
- the model: its class, every parameter's and buffer's name, shape and dtype, and a SHA-256 of
  its initial values (so the sizes, the initialisation and the random seed that drew it all count);
- every other argument: tensors by shape, dtype and a SHA-256 of their values (the data), numbers
  and strings by value, the device by its type;
- ``key_extra``: anything else the caller wants counted (a dict of plain values);
- the package's version and torch's.

An entry stores the weights, the history, the configuration and the training time, and is read
with ``torch.load(..., weights_only=True)``. An entry that cannot be read, or whose stored
configuration differs from the requested one, is never used: a warning says why, and the run is
trained again and stored afresh. A run that stopped early (interrupted) is not stored.

The cache folder is ``$LSTM_EDU_CACHE`` if set, else the user's cache directory
(``platformdirs.user_cache_dir("lstm_edu")``, e.g. ``~/.cache/lstm_edu`` on Linux), under ``runs/``.
``LSTM_EDU_CACHE=off`` switches the cache off: every run trains, nothing is stored
(``python tools/execute.py --no-cache`` does that for a whole execution of the book).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Union

import torch
from torch import nn

OFF_VALUES = ("off", "0", "no", "false", "none")
# Seconds of training done here and loaded from the cache since the chapter's settings cell
# (settings.describe() resets them; settings.closing_line() reports them).
SECONDS = {"trained": 0.0, "loaded": 0.0}
# Arguments that change what is printed, never what is trained: left out of the key.
NOT_IN_KEY = ("progress", "desc", "print_samples")


def cache_root() -> Optional[Path]:
    """The cache folder: ``$LSTM_EDU_CACHE``, else the user's cache directory; ``None`` when the
    cache is switched off (``LSTM_EDU_CACHE=off``)."""
    env = os.environ.get("LSTM_EDU_CACHE", "").strip()
    if env.lower() in OFF_VALUES and env:
        return None
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("lstm_edu", appauthor=False))


def tensor_digest(t: torch.Tensor) -> str:
    """SHA-256 of a tensor's values (on the CPU, contiguous), its dtype and shape."""
    t = t.detach().to("cpu").contiguous()
    h = hashlib.sha256(f"{t.dtype}{list(t.shape)}".encode())
    if t.numel():
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def model_signature(model: nn.Module) -> Dict[str, Any]:
    """What identifies an untrained model: class, parameter/buffer names, shapes and dtypes, and a
    digest of all their current values."""
    h = hashlib.sha256()
    shapes = {}
    for name, t in model.state_dict().items():
        shapes[name] = [list(t.shape), str(t.dtype).replace("torch.", "")]
        h.update(name.encode())
        h.update(tensor_digest(t).encode())
    cls = type(model)
    inner = {n: f"{type(m).__module__}.{type(m).__qualname__}" for n, m in model.named_children()}
    # Plain settings that are not tensors (a forget bias, a layer-norm switch, sizes) change what
    # is trained as much as the weights do: every module's public ones go into the key.
    options = {}
    for name, module in model.named_modules():
        plain = {k: v for k, v in sorted(vars(module).items())
                 if not k.startswith("_") and k != "training"
                 and isinstance(v, (bool, int, float, str, type(None)))}
        if plain:
            options[name or "."] = plain
    return {
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "children": inner,
        "options": options,
        "shapes": shapes,
        "values_sha256": h.hexdigest(),
    }


def _describe(value: Any, where: str, local_ok: bool = False) -> Any:
    """A JSON-able description of one argument (its identity for the key)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, torch.device):
        return {"device": value.type}
    if isinstance(value, torch.Tensor):
        return {
            "tensor": list(value.shape),
            "dtype": str(value.dtype),
            "sha256": tensor_digest(value),
        }
    if isinstance(value, (list, tuple)):
        return [_describe(v, f"{where}[{i}]", local_ok) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {
            str(k): _describe(v, f"{where}[{k!r}]", local_ok)
            for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
        }
    if isinstance(value, nn.Module):
        return model_signature(value)
    if callable(value) and hasattr(value, "__qualname__"):
        name = f"{getattr(value, '__module__', '?')}.{value.__qualname__}"
        if "<" in name and not local_ok:  # a lambda or local function: its name says too little
            raise TypeError(
                f"run cache: {where} is {name}, which the key cannot tell apart from another "
                "one; describe what it computes in key_extra={...}"
            )
        return {"function": name}
    chars = getattr(value, "chars", None)  # a CharVocab
    if isinstance(chars, str):
        return {"vocab": chars}
    raise TypeError(
        f"run cache: cannot put {where} ({type(value).__name__}) into the key; expected tensors, "
        "numbers, strings, lists, dicts, a vocabulary or a module. Leave it out of the call, or "
        "describe it in key_extra={...} and pass it in a way the key can read"
    )


def configuration(
    fn: Callable,
    model: nn.Module,
    args: tuple = (),
    kwargs: Optional[dict] = None,
    key_extra: Optional[dict] = None,
) -> Dict[str, Any]:
    """The configuration that keys a run (see the module docstring)."""
    from .. import __version__

    bound = inspect.signature(fn).bind(model, *args, **(kwargs or {}))
    bound.apply_defaults()  # a default counts too: changing it changes the key
    given = dict(bound.arguments)
    given.pop(next(iter(given)))  # the model: described below
    for name, param in inspect.signature(fn).parameters.items():
        if param.kind is inspect.Parameter.VAR_KEYWORD and name in given:
            given.update(given.pop(name))
    if given.get("optimizer") is not None:
        raise TypeError(
            "run cache: pass the optimiser's settings (lr=...), not an optimizer object"
        )
    if "device" in given:
        from .. import settings

        given["device"] = (
            torch.device(given["device"]) if given["device"] is not None else settings.DEVICE
        )
    return {
        "function": f"{fn.__module__}.{fn.__qualname__}",
        "model": model_signature(model),
        "arguments": {
            k: _describe(v, k, bool(key_extra))
            for k, v in sorted(given.items())
            if k not in NOT_IN_KEY
        },
        "key_extra": _describe(key_extra or {}, "key_extra"),
        "lstm_edu": __version__,
        "torch": torch.__version__.split("+")[0],
    }


def key_of(config: Dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def entry_path(config: Dict[str, Any], root: Optional[Path] = None) -> Optional[Path]:
    root = cache_root() if root is None else root
    if root is None:
        return None
    name = config["function"].rsplit(".", 1)[-1]
    return root / "runs" / f"{name}-{key_of(config)[:32]}.pt"


def _load(path: Path, config: Dict[str, Any], model: nn.Module) -> Optional[Dict[str, Any]]:
    """The stored entry if it is readable and matches ``config``; else ``None`` and a warning."""
    try:
        entry = torch.load(path, map_location=next(model.parameters()).device, weights_only=True)
        stored = json.loads(entry["config"])
        if stored != json.loads(json.dumps(config)):
            warnings.warn(
                f"run cache: {path.name} holds a different configuration; training again",
                stacklevel=3,
            )
            return None
        model.load_state_dict(entry["model"])
        return entry
    except Exception as err:  # unreadable, truncated, wrong keys or shapes: never used
        warnings.warn(
            f"run cache: {path} could not be used ({type(err).__name__}: {str(err)[:200]}); "
            "training again",
            stacklevel=3,
        )
        return None


def run(
    fn: Callable[..., Dict[str, Any]],
    model: nn.Module,
    *args: Any,
    key_extra: Optional[dict] = None,
    cache: Union[str, Path, None] = None,
    verbose: bool = True,
    **kwargs: Any,
) -> Dict[str, Any]:
    """``fn(model, *args, **kwargs)``, or its stored result: returns the history ``fn`` returned.

    On a hit the stored weights are loaded into ``model`` (which must be built exactly as for
    training: same class, sizes and initial values) and the stored history is returned. On a miss
    ``fn`` trains ``model`` and the weights, history, configuration and training time are stored.
    ``cache`` overrides the cache folder (default :func:`cache_root`). With ``verbose``, one line
    says whether the run was loaded or trained.
    """
    config = configuration(fn, model, args, kwargs, key_extra)
    root = Path(cache) if cache is not None else cache_root()
    path = entry_path(config, root) if root is not None else None
    if path is not None and path.exists():
        entry = _load(path, config, model)
        if entry is not None:
            model.eval()
            SECONDS["loaded"] += float(entry["seconds"])
            if verbose:
                print(
                    f"run cache: loaded {path.name} (trained in {entry['seconds']:.0f} s on "
                    f"{entry['device']}, stored {entry['stored']})"
                )
            return entry["history"]
    start = time.perf_counter()
    history = fn(model, *args, **kwargs)
    seconds = time.perf_counter() - start
    SECONDS["trained"] += seconds
    if path is not None and not history.get("stopped_early"):
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "config": json.dumps(config, sort_keys=True),
            "model": model.state_dict(),
            "history": history,
            "seconds": seconds,
            "device": str(config["arguments"].get("device", {}).get("device", "?")),
            "stored": time.strftime("%Y-%m-%d %H:%M"),
        }
        tmp = path.with_suffix(f".{os.getpid()}.part")
        torch.save(entry, tmp)
        os.replace(tmp, path)  # never a half-written entry under the real name
        if verbose:
            print(f"run cache: trained in {seconds:.0f} s and stored {path.name}")
    return history


__all__ = [
    "run",
    "cache_root",
    "configuration",
    "key_of",
    "entry_path",
    "model_signature",
    "tensor_digest",
]
