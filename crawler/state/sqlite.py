"""The embedded state store: one SQLite file in WAL mode, written behind in short grouped transactions."""

from __future__ import annotations

import errno
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from crawler.errors import OutputError
from crawler.state import ThreadState

SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    tid TEXT PRIMARY KEY, last_reply TEXT, pages INTEGER NOT NULL, posts_seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS emitted (
    kind TEXT NOT NULL, key TEXT NOT NULL, version TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (kind, key, version)
);
CREATE INDEX IF NOT EXISTS emitted_version ON emitted (kind, version);
CREATE TABLE IF NOT EXISTS checkpoints (source TEXT PRIMARY KEY, offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS flags (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """A failed write (disk full, read-only) becomes an OutputError naming the file."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise OutputError(errno.ENOSPC, f"cannot write the crawl state {path}: {exc}") from exc


class SqliteState:
    """Changes wait in memory and go to the file in one short transaction per ``commit_every`` changes
    or ``commit_seconds``, and at close; reads see them at once.

    No transaction stays open between calls, so other connections to the same file (the WARC digest
    index) never wait on it. Losing the last group to a crash is safe: emitted records are recovered
    from the TSV tail (``EmittedPipeline.reconcile``) and an unsaved thread is fetched again, its posts
    deduplicated.
    """

    def __init__(self, path: Path, commit_every: int = 500, commit_seconds: float = 2.0) -> None:
        self.path = path
        self.commit_every = commit_every
        self.commit_seconds = commit_seconds
        self._lock = threading.Lock()
        self._threads: dict[str, ThreadState] = {}
        self._emitted: dict[tuple[str, str, str], None] = {}
        """Insertion-ordered: versions keep the order they were emitted in."""
        self._checkpoints: dict[str, int] = {}
        self._since = time.monotonic()
        self._commit_hooks: list[Callable[[], None]] = []
        with _writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)

    # --- reads: memory first, then the file -------------------------------------------------------------
    def thread(self, tid: str) -> ThreadState | None:
        with self._lock:
            if tid in self._threads:
                return self._threads[tid]
            row = self._db.execute(
                "SELECT tid, last_reply, pages, posts_seen FROM threads WHERE tid = ?", (tid,)
            ).fetchone()
        return ThreadState(*row) if row else None

    def emitted(self, kind: str, key: str, version: str = "") -> bool:
        with self._lock:
            if (kind, key, version) in self._emitted:
                return True
            row = self._db.execute(
                "SELECT 1 FROM emitted WHERE kind = ? AND key = ? AND version = ?", (kind, key, version)
            ).fetchone()
        return row is not None

    def emitted_versions(self, kind: str, key: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT version FROM emitted WHERE kind = ? AND key = ? ORDER BY rowid", (kind, key)
            ).fetchall()
            stored = [r[0] for r in rows]
            pending = [v for k, ky, v in self._emitted if k == kind and ky == key and v not in stored]
        return stored + pending

    def key_of_version(self, kind: str, version: str) -> str | None:
        with self._lock:
            for k, key, v in self._emitted:
                if k == kind and v == version:
                    return key
            row = self._db.execute(
                "SELECT key FROM emitted WHERE kind = ? AND version = ? LIMIT 1", (kind, version)
            ).fetchone()
        return row[0] if row else None

    def checkpoint(self, source: str) -> int:
        with self._lock:
            if source in self._checkpoints:
                return self._checkpoints[source]
            row = self._db.execute("SELECT offset FROM checkpoints WHERE source = ?", (source,)).fetchone()
        return int(row[0]) if row else 0

    # --- writes: remembered, then written in groups -----------------------------------------------------
    def save_thread(self, state: ThreadState) -> None:
        with self._lock:
            self._threads[state.tid] = state
            self._maybe_commit()

    def mark_emitted(self, kind: str, key: str, version: str = "") -> None:
        with self._lock:
            self._emitted.setdefault((kind, key, version))
            self._maybe_commit()

    def set_checkpoint(self, source: str, offset: int) -> None:
        with self._lock:
            self._checkpoints[source] = max(offset, self._checkpoints.get(source, 0))
            self._maybe_commit()

    def flag(self, name: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM flags WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else None

    def set_flag(self, name: str, value: str | None) -> None:
        """Written at once (flags are rare): a small fact that must survive the run, e.g. a list paged to its end."""
        with self._lock, _writing(self.path):
            if value is None:
                self._db.execute("DELETE FROM flags WHERE name = ?", (name,))
            else:
                self._db.execute("INSERT OR REPLACE INTO flags (name, value) VALUES (?, ?)", (name, value))

    def add_commit_hook(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` before each group is written (the TSV writer fsyncs its files there)."""
        self._commit_hooks.append(hook)

    def flush(self) -> None:
        """Write every remembered change now."""
        with self._lock:
            self._commit()

    def _maybe_commit(self) -> None:
        pending = len(self._threads) + len(self._emitted) + len(self._checkpoints)
        if pending >= self.commit_every or time.monotonic() - self._since >= self.commit_seconds:
            self._commit()

    def _commit(self) -> None:
        self._since = time.monotonic()
        if not (self._threads or self._emitted or self._checkpoints):
            return
        for hook in self._commit_hooks:
            hook()
        with _writing(self.path):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO threads (tid, last_reply, pages, posts_seen) VALUES (?, ?, ?, ?)",
                    [(t.tid, t.last_reply, t.pages, t.posts_seen) for t in self._threads.values()],
                )
                self._db.executemany(
                    "INSERT OR IGNORE INTO emitted (kind, key, version) VALUES (?, ?, ?)", list(self._emitted)
                )
                self._db.executemany(
                    "INSERT INTO checkpoints (source, offset) VALUES (?, ?) "
                    "ON CONFLICT(source) DO UPDATE SET offset = max(offset, excluded.offset)",
                    sorted(self._checkpoints.items()),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        self._threads.clear()
        self._emitted.clear()
        self._checkpoints.clear()

    def close(self) -> None:
        with self._lock:
            # Disk full at the end: the next run reconciles from the TSV files.
            with suppress(OutputError):
                self._commit()
            self._db.close()
