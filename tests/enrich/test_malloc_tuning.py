"""The malloc settings enrich starts with reach the worker processes it starts."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from domain_stats.enrich.malloc_tuning import keep_freed_memory

VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc settings")
def test_child_processes_read_the_settings_and_a_users_own_value_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("MALLOC_TOP_PAD_", "0")
    assert keep_freed_memory()
    shown = subprocess.run(
        [sys.executable, "-c", f"import os; print(*(os.environ.get(v) for v in {VARIABLES!r}))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert shown == [str(32 << 20), str(128 << 20), "0"]
