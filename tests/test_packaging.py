"""The package's metadata: pyproject.toml holds the one version and declares every library the
package imports (readers install from it: requirements.txt is `-e .`)."""

import ast
import re
import sys
from pathlib import Path

import pytest

import lstm_edu

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+")
ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_version_comes_from_pyproject():
    assert lstm_edu.__version__ == PROJECT["version"]


def _imports_that_must_succeed(tree):
    """Top-level module names imported by ``tree``, except inside ``try: ... except ImportError``
    (an optional library, such as triton on a GPU)."""
    optional = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers):
            optional.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0]


def test_every_imported_library_is_declared():
    declared = {re.split(r"[\s<>=!~;\[]", dep, maxsplit=1)[0].lower()
                for dep in PROJECT["dependencies"]}
    imported = {}
    for path in sorted((ROOT / "lstm_edu").rglob("*.py")):
        for name in _imports_that_must_succeed(ast.parse(path.read_text(encoding="utf-8"))):
            if name not in sys.stdlib_module_names and name not in ("lstm_edu", "__future__"):
                imported.setdefault(name, path.relative_to(ROOT).as_posix())
    missing = {name: where for name, where in imported.items() if name.lower() not in declared}
    assert not missing, f"imported but not in pyproject.toml's dependencies: {missing}"


def test_requirements_install_the_package_from_pyproject():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert lines == ["-e ."]
