"""Corpora for character-level language models, each with the checksum that identifies it.

- :func:`python_stdlib_source`: the Python standard library's own source code, which ships with
  every Python: about 12 MB in some 730 ``.py`` files (Python 3.11), read in a fixed, sorted order,
  without the test folders. Karpathy's experiment on the Linux kernel's source, with code every
  reader of this book knows. Other Python versions give another text: :meth:`Corpus.describe`
  prints the version, the number of files, the size and the SHA-256, so a figure can be traced to
  the text that produced it.
- :func:`tiny_shakespeare`: the 1.1 MB of Shakespeare that char-rnn and nanoGPT train on,
  downloaded once from its public address with :func:`fetch`, or read from a local folder named by
  ``LSTM_EDU_DATA`` (how machines without internet, and the book's tests, run it).
- :func:`fetch`: download a file once, check its SHA-256, keep it in the cache (with pooch).

Python's documentation (:func:`lstm_edu.training.data.python_docs_text`, 465,000 characters of
English) stays where a chapter wants prose.
"""

from __future__ import annotations

import hashlib
import os
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Union

TINY_SHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)
TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
# Folders of the standard library that hold its tests (and what pip installed), not its code.
SKIPPED_FOLDERS = ("test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__")


@dataclass
class Corpus:
    """A text and what identifies it: where it came from, how many files, its size and checksum."""

    name: str
    text: str
    source: str
    files: List[str] = field(default_factory=list)
    sha256: str = ""

    def __post_init__(self) -> None:
        if not self.sha256:
            self.sha256 = hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def n_bytes(self) -> int:
        return len(self.text.encode("utf-8"))

    def describe(self) -> str:
        files = f"{len(self.files):,} files, " if self.files else ""
        return (
            f"{self.name}: {files}{len(self.text):,} characters "
            f"({self.n_bytes / 1e6:.2f} MB as UTF-8), "
            f"sha256 {self.sha256[:16]}… ({self.source})"
        )

    def __repr__(self) -> str:
        return f"Corpus({self.describe()})"


def data_cache_dir() -> Path:
    """Where downloads are kept: ``$LSTM_EDU_CACHE/data``, else the user's cache directory's
    ``lstm_edu/data`` (also when the run cache is switched off with ``LSTM_EDU_CACHE=off``)."""
    from .runcache import cache_root

    root = cache_root()
    if root is None:
        import platformdirs

        root = Path(platformdirs.user_cache_dir("lstm_edu", appauthor=False))
    return root / "data"


def python_stdlib_files(root: Union[str, Path, None] = None) -> List[Path]:
    """The ``.py`` files of the standard library at ``root`` (default: this Python's), sorted by
    their path relative to ``root``, leaving out the folders in ``SKIPPED_FOLDERS``."""
    root = Path(root) if root is not None else Path(sysconfig.get_paths()["stdlib"])
    if not root.is_dir():
        raise FileNotFoundError(f"no standard library folder at {root}")
    files = [
        p
        for p in root.rglob("*.py")
        if not set(p.relative_to(root).parts[:-1]) & set(SKIPPED_FOLDERS)
    ]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def python_stdlib_source(root: Union[str, Path, None] = None) -> Corpus:
    """The standard library's source as one text: every file of :func:`python_stdlib_files`,
    decoded as UTF-8 (an undecodable byte becomes U+FFFD), joined by a blank line, in sorted
    order."""
    root = Path(root) if root is not None else Path(sysconfig.get_paths()["stdlib"])
    files = python_stdlib_files(root)
    text = (
        "\n\n".join(p.read_bytes().decode("utf-8", errors="replace").strip("\n") for p in files)
        + "\n"
    )
    version = sys.version.split()[0] if root == Path(sysconfig.get_paths()["stdlib"]) else str(root)
    return Corpus(
        "Python standard library source",
        text,
        f"Python {version}",
        [p.relative_to(root).as_posix() for p in files],
    )


def fetch(
    url: str, sha256: str, filename: Optional[str] = None, folder: Union[str, Path, None] = None
) -> Path:
    """Download ``url`` into ``folder`` (default :func:`data_cache_dir`) unless a file with the
    right SHA-256 is already there; return its path.

    `pooch <https://www.fatiando.org/pooch/>`_ downloads to a temporary file and moves it into place
    only when the checksum matches; a cached file whose checksum does not match is fetched again; a
    download whose checksum does not match raises ``ValueError`` and leaves nothing behind.
    """
    import pooch
    import requests  # pooch's downloader

    sha256 = sha256.lower()
    if len(sha256) != 64 or any(ch not in "0123456789abcdef" for ch in sha256):
        raise ValueError(f"sha256 must be 64 hexadecimal digits, got {sha256!r}")
    folder = Path(folder) if folder is not None else data_cache_dir()
    name = filename or url.rstrip("/").rsplit("/", 1)[-1] or "download"
    try:
        return Path(
            pooch.retrieve(
                url, known_hash=f"sha256:{sha256}", fname=name, path=folder, progressbar=False
            )
        )
    except requests.RequestException as e:  # no connection, DNS, timeout, HTTP error
        raise ConnectionError(
            f"could not download {url} ({type(e).__name__}); without internet, put a copy in a "
            "folder and name it in the environment variable LSTM_EDU_DATA"
        ) from e


def tiny_shakespeare(
    local: Union[str, Path, None] = None,
    url: str = TINY_SHAKESPEARE_URL,
    sha256: str = TINY_SHAKESPEARE_SHA256,
) -> Corpus:
    """Tiny Shakespeare (40,000 lines of Shakespeare's plays, 1,115,394 characters).

    Read from ``local`` (a folder), else from the folder named by ``LSTM_EDU_DATA``, else downloaded
    from ``url`` once and cached (:func:`fetch`). A local folder may hold the file as
    ``tinyshakespeare/input.txt`` (the layout of char-rnn's ``data`` folder) or as ``input.txt``.
    Wherever it comes from, its SHA-256 must be ``sha256``: another file raises ``ValueError``.
    """
    local = local if local is not None else (os.environ.get("LSTM_EDU_DATA") or None)
    if local is not None:
        folder = Path(local).expanduser()
        candidates = [folder / "tinyshakespeare" / "input.txt", folder / "input.txt"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise FileNotFoundError(
                f"Tiny Shakespeare not found in {folder}: expected "
                f"{candidates[0]} or {candidates[1]}"
            )
        source = f"local copy {path}"
    else:
        path = fetch(url, sha256, "tinyshakespeare.txt")
        source = f"downloaded from {url}"
    raw = path.read_bytes()
    got = hashlib.sha256(raw).hexdigest()
    if got != sha256:
        raise ValueError(f"{path}: sha256 {got} is not Tiny Shakespeare's {sha256}")
    return Corpus("Tiny Shakespeare", raw.decode("utf-8"), source, sha256=got)


__all__ = [
    "Corpus",
    "python_stdlib_files",
    "python_stdlib_source",
    "tiny_shakespeare",
    "fetch",
    "data_cache_dir",
    "TINY_SHAKESPEARE_URL",
    "TINY_SHAKESPEARE_SHA256",
]
