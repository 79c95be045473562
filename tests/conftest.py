"""Shared by the test suite: the repository root and the book's table of contents.

``BOOK_TOC`` (set by ``make ... TOC=...``) selects another table of contents; the default is
``_toc.yml``. The helpers in ``tools/`` are imported from there (they are scripts, not a package).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))
