"""The lookup path's writes: first contacts batched per loop turn, everything else on one thread.

A point read in WAL mode costs a few microseconds, less than handing it to a thread, so
reads run inline. First contacts, the hot write, are batched per loop turn into one
multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: the rows it returns are the
winners, so "first contact exactly once" holds within a process (one loop) and across
processes (SQLite's write lock). Registrations and imports queue to a writer thread that
commits whatever has queued up in one transaction, each job inside a SAVEPOINT so one
failing job changes nothing; that thread also checkpoints the WAL, the only part that waits
on the disk.

A write that fails for the disk's sake (full, read-only, an I/O error) fails its askers at
once (``DATABASE-UNAVAILABLE``) and marks the database unwritable (:class:`WriteHealth`, which
``/health`` reports); the writer thread never dies of it. While unwritable, the writer tries a
one-row write every second, so the mark clears by itself within a second or two of space
coming back, whether or not lookups arrive meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from domain_stats.registry.registration import Registration
from domain_stats.storage import StorageError
from domain_stats.storage.settling import Outcome, settle_all, settle_in_slices
from domain_stats.storage.sqlite_connection import LOCK_PATIENCE, ROWS_PER_STATEMENT, begin_immediate, connect

__all__ = ["LoopVisits", "WriteHealth", "Writer"]

log = logging.getLogger(__name__)

_STOP = object()
_MAX_BATCH = 4096
_CHECKPOINT_EVERY = 1.0  # seconds between passive WAL checkpoints by the writer thread


class WriteHealth:
    """Whether the last write reached the disk: None, or why it did not (shared by the loop and the
    writer thread; one attribute, replaced whole)."""

    def __init__(self) -> None:
        self.problem: str | None = None

    def failed(self, err: BaseException) -> None:
        if self.problem is None:
            log.error("database writes are failing: %s", err)
        self.problem = str(err)

    def succeeded(self) -> None:
        if self.problem is not None:
            log.warning("database writes succeed again (after: %s)", self.problem)
            self.problem = None


class _Job:
    __slots__ = ("future", "run")

    def __init__(self, run: Callable[[sqlite3.Connection], Any], future: asyncio.Future[Any]) -> None:
        self.run = run
        self.future = future


class _Visit:
    """A queued lookup that records first contact: answered with (registration, seen_by_you, first)."""

    __slots__ = ("domain", "future", "stamp")

    def __init__(self, domain: str, stamp: int, future: asyncio.Future[Any]) -> None:
        self.domain = domain
        self.stamp = stamp
        self.future = future


class LoopVisits:
    """Reads and first-contact writes for every domain asked in one loop turn, at once.

    Every domain the memory cache cannot answer needs its registration and its first-contact
    record. Doing that per request costs a query each, and each query hands the GIL to the
    HTTP server's thread and waits to get it back; one turn's worth together is two ``IN``
    reads and, for the domains never seen, one ``INSERT ... RETURNING``. A WAL append without
    fsync (``synchronous = NORMAL``) costs microseconds. The write lock is taken without
    waiting (``busy_timeout = 0``): while another process holds it, the turn is retried a
    fraction of a millisecond later instead of blocking the loop. Checkpoints, the part that
    does real I/O, are left to the writer thread.
    """

    def __init__(self, conn: sqlite3.Connection, health: WriteHealth) -> None:
        self._conn = conn
        self._health = health
        self._pending: list[_Visit] = []
        self._scheduled = False
        self._waiting_since = 0.0
        self.closed = False

    def visit(self, domain: str, stamp: int) -> asyncio.Future[Any]:
        if self.closed:
            raise StorageError("the database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append(_Visit(domain, stamp, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        if not batch:
            return
        new: list[_Visit] = []
        try:
            registrations, known = self._read(list({v.domain for v in batch}))
            new = [v for v in batch if v.domain not in known]
            decided = self._write(new) if new else {}
        except _LockBusy as busy:
            self._retry_later(batch, busy.error)
            return
        except sqlite3.Error as err:
            log.error("database lookup failed: %s", err)
            if new:
                self._health.failed(err)
            settle_all([(v.future, None, StorageError(f"database failed: {err}")) for v in batch])
            return
        if new:
            self._health.succeeded()
        self._waiting_since = 0.0
        outcomes: list[Outcome] = []
        for v in batch:
            seen, first = (known[v.domain], False) if v.domain in known else decided[v.domain].pop(0)
            outcomes.append((v.future, (registrations.get(v.domain), seen, first), None))
        settle_in_slices(outcomes)

    def _read(self, domains: list[str]) -> tuple[dict[str, Registration], dict[str, int]]:
        registrations: dict[str, Registration] = {}
        known: dict[str, int] = {}
        for i in range(0, len(domains), ROWS_PER_STATEMENT):
            chunk = domains[i : i + ROWS_PER_STATEMENT]
            marks = ",".join(["?"] * len(chunk))
            for domain, *fields in self._conn.execute(
                f"SELECT domain, created, expires, origin, seen_by_isc FROM domains WHERE domain IN ({marks})", chunk
            ):
                registrations[domain] = Registration(*fields)
            known.update(
                self._conn.execute(f"SELECT domain, seen_by_you FROM contacts WHERE domain IN ({marks})", chunk)
            )
        return registrations, known

    def _write(self, new: list[_Visit]) -> dict[str, list[tuple[int, bool]]]:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            if _lock_busy(err):
                raise _LockBusy(err) from None
            raise
        try:
            decided = _record_contacts(self._conn, new)
            self._conn.execute("COMMIT")
        except sqlite3.Error:
            if self._conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            raise
        return decided

    def close(self) -> None:
        self._flush()  # whatever is queued was promised an answer
        self._conn.close()

    def _retry_later(self, batch: list[_Visit], err: sqlite3.OperationalError) -> None:
        now = time.monotonic()
        self._waiting_since = self._waiting_since or now
        if now - self._waiting_since > LOCK_PATIENCE:
            self._waiting_since = 0.0
            settle_all([(v.future, None, StorageError(f"database write failed: {err}")) for v in batch])
            return
        self._pending = batch + self._pending
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(0.0005, self._flush)


class _LockBusy(Exception):
    def __init__(self, error: sqlite3.OperationalError) -> None:
        self.error = error


class Writer(threading.Thread):
    """Runs queued jobs (registrations, imports) in batched transactions, and checkpoints the WAL."""

    def __init__(self, path: Path, health: WriteHealth) -> None:
        super().__init__(name="domain-stats-sqlite-writer", daemon=True)
        self._path = path
        self._health = health
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._stopping = False

    def submit(self, run: Callable[[sqlite3.Connection], Any]) -> asyncio.Future[Any]:
        future = self._new_future()
        self._queue.put(_Job(run, future))
        return future

    def _new_future(self) -> asyncio.Future[Any]:
        if self._stopping:
            raise StorageError("the database is closed")
        if not self.is_alive():  # it never dies of a failed write; this would be a bug, not a hang
            raise StorageError("the database writer has stopped")
        return asyncio.get_running_loop().create_future()

    def stop(self) -> None:
        self._stopping = True
        self._queue.put(_STOP)

    def run(self) -> None:
        conn = connect(self._path)
        conn.execute("PRAGMA busy_timeout = 0")  # _begin_immediate waits for other processes, finely
        try:
            while True:
                try:
                    item = self._queue.get(timeout=_CHECKPOINT_EVERY)
                except queue.Empty:
                    self._idle(conn)
                    continue
                if item is _STOP:
                    return
                batch, stop_after = self._more(item)
                _settle_batch(self._run_batch(conn, batch))
                if stop_after:
                    return
        finally:
            conn.close()

    def _more(self, first: _Job) -> tuple[list[_Job], bool]:
        """What has queued up behind ``first`` (up to a batch), and whether a stop came with it."""
        batch = [first]
        while len(batch) < _MAX_BATCH:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is _STOP:
                return batch, True
            batch.append(more)
        return batch, False

    def _idle(self, conn: sqlite3.Connection) -> None:
        """Nothing queued for a second: while writes are failing, try one (has space come back?);
        then checkpoint the WAL (the loop's writes never do)."""
        try:
            if self._health.problem is not None:
                begin_immediate(conn)
                conn.execute(_PROBE, (str(time.time()),))
                conn.execute("COMMIT")
                self._health.succeeded()
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as err:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if not _lock_busy(err):
                self._health.failed(err)

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            begin_immediate(conn)
            for job in batch:
                conn.execute("SAVEPOINT job")
                try:
                    outcomes.append((job.future, job.run(conn), None))
                    conn.execute("RELEASE job")
                except Exception as err:  # one bad job must not spoil the batch
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((job.future, None, StorageError(f"database write failed: {err}")))
            conn.execute("COMMIT")
            self._health.succeeded()
        except Exception as err:  # whatever it is, every asker gets an answer and the thread lives on
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            log.error("database write failed: %s", err)
            if isinstance(err, sqlite3.Error) and not _lock_busy(err):
                self._health.failed(err)
            failure = StorageError(f"database write failed: {err}")
            outcomes = [(item.future, None, failure) for item in batch]
        return outcomes


#: The one-row write that tells whether writes reach the disk again.
_PROBE = (
    "INSERT INTO meta (key, value) VALUES ('write_probe', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def _lock_busy(err: sqlite3.Error) -> bool:
    """Another process holds the write lock: a wait, not a failure of the disk."""
    text = str(err)
    return "locked" in text or "busy" in text


def _record_contacts(conn: sqlite3.Connection, contacts: list[_Visit]) -> dict[str, list[tuple[int, bool]]]:
    """Insert a batch of first contacts; per domain, ``(seen_by_you, first)`` for each asker in order."""
    earliest: dict[str, int] = {}
    for c in contacts:
        earliest.setdefault(c.domain, c.stamp)
    rows = list(earliest.items())
    won: set[str] = set()
    stamps: dict[str, int] = {}
    for i in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[i : i + ROWS_PER_STATEMENT]
        inserted = conn.execute(
            "INSERT INTO contacts (domain, seen_by_you) VALUES "
            + ",".join(["(?, ?)"] * len(chunk))
            + " ON CONFLICT (domain) DO NOTHING RETURNING domain, seen_by_you",
            [value for row in chunk for value in row],
        ).fetchall()
        for domain, stamp in inserted:
            won.add(domain)
            stamps[domain] = stamp
        others = [domain for domain, _ in chunk if domain not in won]
        if others:
            marks = ",".join(["?"] * len(others))
            stamps.update(conn.execute(f"SELECT domain, seen_by_you FROM contacts WHERE domain IN ({marks})", others))
    decided: dict[str, list[tuple[int, bool]]] = {}
    for c in contacts:
        answers = decided.setdefault(c.domain, [])
        answers.append((stamps[c.domain], c.domain in won and not answers))
    return decided


def _settle_batch(outcomes: list[Outcome]) -> None:
    """Hand results back with one wake-up per event loop, not one per future."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
    for loop, group in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(settle_all, group)
