"""Tests for lstm_edu.training.corpora: the standard library's source, Tiny Shakespeare from a local
folder, and downloads checked and cached (against a server on 127.0.0.1, never the internet)."""

import hashlib
import http.server
import threading
from functools import partial
from pathlib import Path

import pytest

from lstm_edu.training import corpora

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def local_server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/www; yields (base_url, www_dir, request_log)."""
    www = tmp_path / "www"
    www.mkdir()
    log = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            log.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", www, log
    finally:
        server.shutdown()
        server.server_close()


def test_stdlib_files_are_sorted_and_skip_test_folders(tmp_path):
    for rel in (
        "b.py",
        "a/x.py",
        "a/test/t.py",
        "tests/y.py",
        "site-packages/p/q.py",
        "a/c.txt",
        "idle_test/z.py",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(f"# {rel}\n")
    files = [p.relative_to(tmp_path).as_posix() for p in corpora.python_stdlib_files(tmp_path)]
    assert files == ["a/x.py", "b.py"]
    corpus = corpora.python_stdlib_source(tmp_path)
    assert corpus.text == "# a/x.py\n\n# b.py\n"
    assert corpus.sha256 == hashlib.sha256(corpus.text.encode()).hexdigest()
    assert "2 files" in corpus.describe() and corpus.sha256[:16] in corpus.describe()
    with pytest.raises(FileNotFoundError, match="no standard library"):
        corpora.python_stdlib_files(tmp_path / "missing")


def test_this_pythons_stdlib_is_megabytes_of_code():
    corpus = corpora.python_stdlib_source()
    assert len(corpus.files) > 300 and len(corpus.text) > 5_000_000
    assert "def " in corpus.text and "import " in corpus.text
    assert not any("/test/" in f"/{f}" or f.startswith("test/") for f in corpus.files)
    assert corpora.python_stdlib_source().sha256 == corpus.sha256  # the same text every time


def test_fetch_checks_and_caches(local_server, tmp_path):
    base, www, log = local_server
    payload = b"first citizen:\nbefore we proceed any further, hear me speak.\n" * 50
    (www / "corpus.txt").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    cache = tmp_path / "cache"
    path = corpora.fetch(f"{base}/corpus.txt", digest, folder=cache)
    assert path == cache / "corpus.txt" and path.read_bytes() == payload
    assert len(log) == 1
    assert corpora.fetch(f"{base}/corpus.txt", digest.upper(), folder=cache) == path
    assert len(log) == 1, "a cached file with the right checksum needs no request"
    path.write_bytes(b"corrupted")
    assert corpora.fetch(f"{base}/corpus.txt", digest, folder=cache).read_bytes() == payload
    assert len(log) == 2


def test_fetch_refuses_a_wrong_checksum_and_keeps_nothing(local_server, tmp_path):
    base, www, _ = local_server
    (www / "corpus.txt").write_bytes(b"some text")
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="(?i)hash"):
        corpora.fetch(f"{base}/corpus.txt", "0" * 64, folder=cache)
    assert not (cache / "corpus.txt").exists()
    with pytest.raises(ValueError, match="64 hexadecimal"):
        corpora.fetch(f"{base}/corpus.txt", "abc", folder=cache)


def test_tiny_shakespeare_downloaded_from_a_url(local_server, tmp_path, monkeypatch):
    base, www, log = local_server
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n"
    (www / "input.txt").write_text(text)
    monkeypatch.delenv("LSTM_EDU_DATA", raising=False)
    monkeypatch.setenv("LSTM_EDU_CACHE", str(tmp_path / "cache"))
    digest = hashlib.sha256(text.encode()).hexdigest()
    corpus = corpora.tiny_shakespeare(url=f"{base}/input.txt", sha256=digest)
    assert corpus.text == text and "downloaded" in corpus.source
    assert (tmp_path / "cache" / "data" / "tinyshakespeare.txt").exists()


def test_tiny_shakespeare_from_a_local_folder(tmp_path, monkeypatch):
    (tmp_path / "tinyshakespeare").mkdir()
    (tmp_path / "tinyshakespeare" / "input.txt").write_text("not shakespeare")
    monkeypatch.setenv("LSTM_EDU_DATA", str(tmp_path))
    with pytest.raises(ValueError, match="is not Tiny Shakespeare"):
        corpora.tiny_shakespeare()
    with pytest.raises(FileNotFoundError, match="input.txt"):
        corpora.tiny_shakespeare(local=tmp_path / "empty")


@pytest.mark.skipif(
    not (SHARED / "tinyshakespeare" / "input.txt").exists(),
    reason="no local copy in ../shared/data",
)
def test_the_real_tiny_shakespeare_from_the_shared_folder():
    corpus = corpora.tiny_shakespeare(local=SHARED)
    assert len(corpus.text) == 1_115_394 and corpus.text.startswith("First Citizen:")
    assert corpus.sha256 == corpora.TINY_SHAKESPEARE_SHA256


def test_fetch_without_a_connection_says_what_to_do(tmp_path):
    """Offline, the error names the address and the local-folder alternative, not a traceback
    of the HTTP library."""
    with pytest.raises(ConnectionError, match="could not download http://127.0.0.1:9/x.*"
                       "LSTM_EDU_DATA"):
        corpora.fetch("http://127.0.0.1:9/x", "0" * 64, folder=tmp_path)
    assert not any(tmp_path.iterdir())
