"""Payload digests, and the index of originals that identical-payload-digest revisits point at."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


def sha1_label(data: bytes) -> str:
    """``sha1:BASE32`` of ``data``, the label WARC-Block-Digest and WARC-Payload-Digest use."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


class Digester:
    """Incremental digest that renders as a WARC digest label (``sha1:`` + Base32)."""

    def __init__(self, algorithm: str = "sha1") -> None:
        self.algorithm = algorithm
        self._hash = hashlib.new(algorithm)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.digest()

    def label(self) -> str:
        return f"{self.algorithm}:" + base64.b32encode(self._hash.digest()).decode("ascii")


def digest_matches(label: str, computed: dict[str, Digester]) -> bool | None:
    """Whether ``label`` (``sha1:BASE32``, ``sha256:BASE32`` or ``sha256:hex``) equals a computed digest.

    None when the label's algorithm was not computed or the label is malformed.
    """
    algorithm, _, value = label.partition(":")
    digester = computed.get(algorithm.lower())
    if digester is None or not value:
        return None
    raw = digester.digest()
    if len(value) == 2 * len(raw) and all(c in "0123456789abcdefABCDEF" for c in value):
        return value.lower() == raw.hex()
    try:
        decoded = base64.b32decode(value.upper() + "=" * (-len(value) % 8))
    except ValueError:
        return None
    return decoded == raw


def is_digest_label(label: str) -> bool:
    """True for ``sha1:`` + 32 Base32 characters, or ``sha256:`` + Base32 or hex."""
    algorithm, colon, value = label.partition(":")
    if not colon:
        return False
    b32 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    if algorithm == "sha1":
        return len(value) == 32 and set(value) <= b32
    if algorithm == "sha256":
        stripped = value.rstrip("=")
        return (len(stripped) == 52 and set(stripped) <= b32) or (
            len(value) == 64 and set(value.lower()) <= set("0123456789abcdef")
        )
    return False


@dataclass(frozen=True)
class Original:
    """A response record a revisit may refer to."""

    #: ``<urn:uuid:...>`` of the original response record.
    record_id: str
    #: Its WARC-Target-URI.
    target_uri: str
    #: Its WARC-Date, in WARC-Date form.
    date: str
    #: Final name (without ``.open``) of the WARC file that holds it.
    filename: str


class DigestIndex(Protocol):
    """Payload digest -> original response; only originals whose file is closed are ever returned."""

    def lookup(self, digest: str) -> Original | None: ...

    def add_pending(self, digest: str, original: Original) -> None:
        """Remember ``original``, which sits in a still-open file: invisible until that file closes."""

    def file_closed(self, filename: str) -> None:
        """Make the pending originals of ``filename`` visible to :meth:`lookup`."""


class SqliteDigestIndex:
    """A :class:`DigestIndex` kept in its own tables of a SQLite file (WAL mode), persisted across runs.

    The first original seen for a digest stays the one revisits point at. Originals of a file that
    never closes cleanly (a crash) stay pending forever, so no revisit ever points into a salvaged
    file's lost tail.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared under a lock: the crawler calls from its reactor thread, tests from others.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS warc_digest_original (
                digest TEXT PRIMARY KEY,
                record_id TEXT NOT NULL,
                target_uri TEXT NOT NULL,
                date TEXT NOT NULL,
                filename TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS warc_digest_pending (
                filename TEXT NOT NULL,
                digest TEXT NOT NULL,
                record_id TEXT NOT NULL,
                target_uri TEXT NOT NULL,
                date TEXT NOT NULL,
                PRIMARY KEY (filename, digest)
            );
            """
        )

    def lookup(self, digest: str) -> Original | None:
        with self._lock:
            row = self._db.execute(
                "SELECT record_id, target_uri, date, filename FROM warc_digest_original WHERE digest = ?",
                (digest,),
            ).fetchone()
        if row is None:
            return None
        return Original(record_id=row[0], target_uri=row[1], date=row[2], filename=row[3])

    def add_pending(self, digest: str, original: Original) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO warc_digest_pending (filename, digest, record_id, target_uri, date)"
                " VALUES (?, ?, ?, ?, ?)",
                (original.filename, digest, original.record_id, original.target_uri, original.date),
            )

    def file_closed(self, filename: str) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR IGNORE INTO warc_digest_original"
                    " (digest, record_id, target_uri, date, filename)"
                    " SELECT digest, record_id, target_uri, date, filename FROM warc_digest_pending"
                    " WHERE filename = ? ORDER BY rowid",
                    (filename,),
                )
                self._db.execute("DELETE FROM warc_digest_pending WHERE filename = ?", (filename,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
