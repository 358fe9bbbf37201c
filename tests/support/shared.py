"""Where the shared corpora are (``../shared`` beside the repository), and the mark for tests that read them."""

from __future__ import annotations

from pathlib import Path

import pytest

__all__ = ["SHARED", "needs_shared"]

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared (RDAP corpus, top1m.import) is not present")
