"""The embedded state store: one SQLite file in WAL mode, each change committed at once."""

from __future__ import annotations

import errno
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
"""


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """A failed write (disk full, read-only) becomes an OutputError naming the file."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise OutputError(errno.ENOSPC, f"cannot write the crawl state {path}: {exc}") from exc


class SqliteState:
    """Writes are grouped into one transaction per ``commit_every`` changes or ``commit_seconds``.

    Losing the last group to a crash is safe: emitted records are recovered from the TSV tail
    (``EmittedPipeline.reconcile``) and an unsaved thread is fetched again, its posts deduplicated.
    """

    def __init__(self, path: Path, commit_every: int = 500, commit_seconds: float = 2.0) -> None:
        self.path = path
        self.commit_every = commit_every
        self.commit_seconds = commit_seconds
        self._pending = 0
        self._since = time.monotonic()
        self._lock = threading.Lock()
        with _writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)

    def _changed(self) -> None:
        """Called under the lock after a write: open a group, or commit it when it is big or old enough."""
        if not self._db.in_transaction:
            return
        self._pending += 1
        if self._pending >= self.commit_every or time.monotonic() - self._since >= self.commit_seconds:
            self._commit()

    def _commit(self) -> None:
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self._pending = 0
        self._since = time.monotonic()

    def _begin(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN")
            self._since = time.monotonic()

    def flush(self) -> None:
        """Commit the open group now."""
        with self._lock, _writing(self.path):
            self._commit()

    def thread(self, tid: str) -> ThreadState | None:
        with self._lock:
            row = self._db.execute(
                "SELECT tid, last_reply, pages, posts_seen FROM threads WHERE tid = ?", (tid,)
            ).fetchone()
        return ThreadState(*row) if row else None

    def save_thread(self, state: ThreadState) -> None:
        with self._lock, _writing(self.path):
            self._begin()
            self._db.execute(
                "INSERT OR REPLACE INTO threads (tid, last_reply, pages, posts_seen) VALUES (?, ?, ?, ?)",
                (state.tid, state.last_reply, state.pages, state.posts_seen),
            )
            self._changed()

    def emitted(self, kind: str, key: str, version: str = "") -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM emitted WHERE kind = ? AND key = ? AND version = ?", (kind, key, version)
            ).fetchone()
        return row is not None

    def emitted_versions(self, kind: str, key: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT version FROM emitted WHERE kind = ? AND key = ? ORDER BY rowid", (kind, key)
            ).fetchall()
        return [r[0] for r in rows]

    def key_of_version(self, kind: str, version: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT key FROM emitted WHERE kind = ? AND version = ? LIMIT 1", (kind, version)
            ).fetchone()
        return row[0] if row else None

    def mark_emitted(self, kind: str, key: str, version: str = "") -> None:
        with self._lock, _writing(self.path):
            self._begin()
            self._db.execute(
                "INSERT OR IGNORE INTO emitted (kind, key, version) VALUES (?, ?, ?)", (kind, key, version)
            )
            self._changed()

    def set_checkpoint(self, source: str, offset: int) -> None:
        with self._lock, _writing(self.path):
            self._begin()
            self._db.execute(
                "INSERT INTO checkpoints (source, offset) VALUES (?, ?) "
                "ON CONFLICT(source) DO UPDATE SET offset = max(offset, excluded.offset)",
                (source, offset),
            )
            self._changed()

    def checkpoint(self, source: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT offset FROM checkpoints WHERE source = ?", (source,)).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            try:
                self._commit()
            except sqlite3.OperationalError:
                self._db.rollback()  # disk full at the end: the next run reconciles from the TSV files
            self._db.close()
