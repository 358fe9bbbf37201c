"""Files only the service's own user may read: the data directory, keys, databases, saved caches.

The data directory holds API and admin keys, a database password, and the organisation's DNS
history (who asked about what, and when), so it is created 0700 and the files in it 0600,
whatever the process's umask. Files found readable by others are named in one warning at
start; they are not changed behind the operator's back.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "create_private", "make_private_dir", "warn_if_readable_by_others"]

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) as 0700 if it does not exist; an existing one is left as it is."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=DIR_MODE)
        os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask


def create_private(path: Path) -> None:
    """Create an empty 0600 file at ``path`` unless one exists (before SQLite or a writer opens it:
    SQLite gives its -wal and -shm files the database file's mode)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.fchmod(fd, FILE_MODE)  # open's mode is filtered by the umask
    os.close(fd)


def warn_if_readable_by_others(paths: Iterable[Path]) -> list[Path]:
    """Log one warning naming every existing path that users other than the owner can read."""
    exposed = []
    for path in paths:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            exposed.append(path)
    if exposed:
        listed = ", ".join(f"{p} ({stat.filemode(os.stat(p).st_mode)})" for p in exposed)
        log.warning("readable by other users, though it holds keys or DNS history: %s; chmod go-rwx them", listed)
    return exposed
