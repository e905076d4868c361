"""Streaming WARC reader: records with their offsets, lengths and digests, never a whole file in memory."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, BinaryIO

from archive.digests import Digester

#: Compressed bytes read at a time and decompressed bytes produced at a time.
CHUNK = 64 * 1024
#: A WARC header section longer than this is not a WARC header.
MAX_WARC_HEAD = 1024 * 1024
#: An HTTP header section longer than this inside a block is reported, not buffered further.
MAX_HTTP_HEAD = 1024 * 1024
#: Blocks bigger than this spill from memory to a temporary file when kept.
SPOOL_IN_MEMORY = 1024 * 1024

Source = str | os.PathLike[str] | BinaryIO
#: Keep every block, none, or those a predicate picks once the record's header is read.
KeepBlock = bool | Callable[["WarcRecord"], bool]


class WarcFormatError(Exception):
    """A WARC stream that cannot be read past ``offset``; ``rule`` names the broken rule."""

    def __init__(self, rule: str, offset: int, message: str) -> None:
        super().__init__(f"offset {offset}: {rule}: {message}")
        self.rule = rule
        self.offset = offset
        self.message = message


@dataclass(frozen=True)
class Issue:
    """A problem found while reading a record that did not stop the reader."""

    rule: str
    message: str


@dataclass
class HttpHead:
    """The start line and header fields of the HTTP message in an ``application/http`` block."""

    start_line: bytes
    headers: list[tuple[bytes, bytes]]
    #: Octets of the head in the block, the empty line that ends it included.
    length: int

    @property
    def is_response(self) -> bool:
        return self.start_line.startswith(b"HTTP/")

    @property
    def status(self) -> int | None:
        parts = self.start_line.split(b" ", 2)
        if self.is_response and len(parts) >= 2 and parts[1].isdigit() and len(parts[1]) == 3:
            return int(parts[1])
        return None

    def get(self, name: bytes) -> bytes | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def get_all(self, name: bytes) -> list[bytes]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]


def parse_http_head(data: bytes) -> HttpHead:
    """Split an HTTP head (ending with an empty line) into start line and header fields."""
    lines = data.split(b"\n")
    start = lines[0].rstrip(b"\r")
    headers: list[tuple[bytes, bytes]] = []
    for raw in lines[1:]:
        line = raw.rstrip(b"\r")
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + b" " + line.strip())
            continue
        name, _, value = line.partition(b":")
        headers.append((name.strip(), value.strip()))
    return HttpHead(start_line=start, headers=headers, length=len(data))


class Dechunker:
    """Push decoder of HTTP/1.1 chunked framing; ``failed`` turns True on framing it cannot follow."""

    def __init__(self) -> None:
        self._buf = b""
        self._left = 0
        self._state = "size"
        self.failed = False
        self.done = False

    def feed(self, data: bytes) -> bytes:
        if self.failed:
            return b""
        out = bytearray()
        buf = self._buf + data
        pos = 0
        while pos < len(buf) and not self.failed:
            if self._state == "data":
                take = min(self._left, len(buf) - pos)
                out += buf[pos : pos + take]
                pos += take
                self._left -= take
                if self._left == 0:
                    self._state = "crlf"
                continue
            end = buf.find(b"\n", pos)
            if end < 0:
                if len(buf) - pos > 4096:
                    self.failed = True
                break
            line = buf[pos:end].rstrip(b"\r")
            pos = end + 1
            if self._state == "crlf":
                if line:
                    self.failed = True
                self._state = "size"
            elif self._state == "size":
                size_text = line.split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    self.failed = True
                    break
                if size == 0:
                    self._state = "trailer"
                else:
                    self._left = size
                    self._state = "data"
            elif self._state == "trailer":
                if not line:
                    self._state = "done"
                    self.done = True
            else:  # bytes after the last chunk
                self.failed = True
        self._buf = buf[pos:]
        return bytes(out)


@dataclass
class WarcRecord:
    """One record as read from a stream: header fields, where it sits, what its block hashed to."""

    #: Offset in the file: of the record's gzip member, or of its first byte in an uncompressed file.
    offset: int
    #: Bytes the record takes in the file (its gzip member, or its octets with the closing CRLF CRLF).
    length: int = 0
    version: str = ""
    #: WARC named fields in order, as ``(name, value)``.
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: Block octets actually read (equals Content-Length unless the record is broken).
    block_length: int = 0
    #: Digests of the block: ``sha1``, plus any other algorithm its digest fields name.
    block_digests: dict[str, Digester] = field(default_factory=dict)
    #: Digests of the payload: the HTTP entity after chunked framing is removed, before content decoding.
    payload_digests: dict[str, Digester] | None = None
    http: HttpHead | None = None
    #: A copy of the block, positioned at 0, when read with ``keep_block=True``.
    block: IO[bytes] | None = None
    #: True when the record fills exactly one gzip member (always True for uncompressed files).
    member_aligned: bool = True
    issues: list[Issue] = field(default_factory=list)
    #: True when the record could not be framed; its fields are whatever could be read.
    broken: bool = False

    def get(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    @property
    def type(self) -> str:
        return self.get("WARC-Type") or ""

    @property
    def record_id(self) -> str:
        return self.get("WARC-Record-ID") or ""

    @property
    def date(self) -> str:
        return self.get("WARC-Date") or ""

    @property
    def target_uri(self) -> str | None:
        return self.get("WARC-Target-URI")

    @property
    def content_length(self) -> int | None:
        value = self.get("Content-Length")
        if value is None or not value.isdigit():
            return None
        return int(value)

    @property
    def is_http(self) -> bool:
        content_type = (self.get("Content-Type") or "").replace(" ", "").lower()
        return content_type.startswith("application/http")

    def payload(self) -> Iterator[bytes]:
        """The kept block's payload (chunked framing removed, content still encoded), in chunks."""
        if self.block is None:
            raise ValueError("record was read without keep_block=True; read it again with keep_block=True")
        self.block.seek(self.http.length if self.http else 0)
        dechunker = Dechunker() if self.http and _is_chunked(self.http) else None
        while True:
            chunk = self.block.read(CHUNK)
            if not chunk:
                return
            yield dechunker.feed(chunk) if dechunker else chunk


def _is_chunked(head: HttpHead) -> bool:
    return any(b"chunked" in value.lower() for value in head.get_all(b"transfer-encoding"))


class _GzipSource:
    """Decompresses gzip members one at a time, remembering each member's compressed offsets."""

    gzipped = True

    def __init__(self, raw: BinaryIO, pending: bytes, base: int) -> None:
        self._raw = raw
        self._pending = pending
        self.member_start = base
        self.member_end = base
        self._fed = 0
        self._buf = b""
        self._pos = 0
        self._consumed = 0
        self._member_eof = True
        self._dec: zlib._Decompress | None = None

    def start_member(self) -> bool:
        """Begin the member at :attr:`member_end`; False at the end of the stream."""
        self.member_start = self.member_end
        while len(self._pending) < 2:
            more = self._raw.read(CHUNK)
            if not more:
                break
            self._pending += more
        if not self._pending:
            return False
        if not self._pending.startswith(b"\x1f\x8b"):
            if len(self._pending) < 2:
                raise WarcFormatError(
                    "truncated-tail", self.member_start, "the file ends with a partial gzip member header"
                )
            raise WarcFormatError(
                "gzip-integrity",
                self.member_start,
                f"bytes {self._pending[:4]!r} are not the start of a gzip member",
            )
        self._dec = zlib.decompressobj(zlib.MAX_WBITS | 16)
        self._fed = 0
        self._buf = b""
        self._pos = 0
        self._consumed = 0
        self._member_eof = False
        return True

    def _fill(self) -> bool:
        dec = self._dec
        while not self._member_eof and dec is not None:
            if dec.unconsumed_tail:
                data = dec.unconsumed_tail
            else:
                data = self._pending or self._raw.read(CHUNK)
                self._pending = b""
                if not data:
                    raise WarcFormatError(
                        "truncated-tail",
                        self.member_start,
                        "the file ends inside a gzip member (a partial last record); "
                        "run `archive salvage` on the directory of a `.open` file",
                    )
                self._fed += len(data)
            try:
                out = dec.decompress(data, CHUNK)
            except zlib.error as exc:
                raise WarcFormatError(
                    "gzip-integrity", self.member_start, f"gzip member does not decompress: {exc}"
                ) from exc
            if dec.eof:
                self._member_eof = True
                self._pending = dec.unused_data
                self.member_end = self.member_start + self._fed - len(dec.unused_data)
            if out:
                self._buf = self._buf[self._pos :] + out
                self._pos = 0
                return True
        return False

    def at_member_start(self) -> bool:
        return self._consumed == 0

    def at_member_end(self) -> bool:
        while self._pos >= len(self._buf):
            if not self._fill():
                return True
        return False

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes from the current member (fewer only at its end)."""
        parts: list[bytes] = []
        while size > 0 and not self.at_member_end():
            piece = self._buf[self._pos : self._pos + size]
            self._pos += len(piece)
            self._consumed += len(piece)
            size -= len(piece)
            parts.append(piece)
        return b"".join(parts)

    def peek(self, size: int) -> bytes:
        while len(self._buf) - self._pos < size and self._fill():
            pass
        return self._buf[self._pos : self._pos + size]

    def readline(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while total < limit and not self.at_member_end():
            end = self._buf.find(b"\n", self._pos)
            stop = len(self._buf) if end < 0 else end + 1
            stop = min(stop, self._pos + limit - total)
            piece = self._buf[self._pos : stop]
            self._pos = stop
            self._consumed += len(piece)
            total += len(piece)
            parts.append(piece)
            if piece.endswith(b"\n"):
                break
        return b"".join(parts)

    def drain(self) -> tuple[int, bytes]:
        """Skip the rest of the member; returns how many bytes it held and its last four."""
        count = 0
        tail = b""
        while not self.at_member_end():
            piece = self._buf[self._pos :]
            self._pos = len(self._buf)
            self._consumed += len(piece)
            count += len(piece)
            tail = (tail + piece)[-4:]
        return count, tail

    def position(self) -> int:
        return self.member_start


class _PlainSource:
    """An uncompressed WARC stream: one long 'member' whose offsets are plain byte positions."""

    gzipped = False

    def __init__(self, raw: BinaryIO, pending: bytes, base: int) -> None:
        self._raw = raw
        self._buf = pending
        self._pos = 0
        self._abs = base  # absolute offset of self._buf[0]
        self._eof = False
        self.member_start = base
        self.member_end = base

    def start_member(self) -> bool:
        return not self.at_member_end()

    def _fill(self) -> bool:
        if self._eof:
            return False
        more = self._raw.read(CHUNK)
        if not more:
            self._eof = True
            return False
        self._abs += self._pos
        self._buf = self._buf[self._pos :] + more
        self._pos = 0
        return True

    def at_member_start(self) -> bool:
        return True

    def at_member_end(self) -> bool:
        while self._pos >= len(self._buf):
            if not self._fill():
                return True
        return False

    def read(self, size: int) -> bytes:
        parts: list[bytes] = []
        while size > 0 and not self.at_member_end():
            piece = self._buf[self._pos : self._pos + size]
            self._pos += len(piece)
            size -= len(piece)
            parts.append(piece)
        return b"".join(parts)

    def peek(self, size: int) -> bytes:
        while len(self._buf) - self._pos < size and self._fill():
            pass
        return self._buf[self._pos : self._pos + size]

    def readline(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while total < limit and not self.at_member_end():
            end = self._buf.find(b"\n", self._pos)
            stop = len(self._buf) if end < 0 else end + 1
            stop = min(stop, self._pos + limit - total)
            piece = self._buf[self._pos : stop]
            self._pos = stop
            total += len(piece)
            parts.append(piece)
            if piece.endswith(b"\n"):
                break
        return b"".join(parts)

    def drain(self) -> tuple[int, bytes]:
        raise AssertionError("an uncompressed stream has no member to drain")

    def position(self) -> int:
        return self._abs + self._pos


_Src = _GzipSource | _PlainSource


@contextlib.contextmanager
def open_source(source: Source) -> Iterator[BinaryIO]:
    """A binary stream for a path, ``-`` (stdin) or an already open binary file (left open)."""
    if isinstance(source, str | os.PathLike):
        if os.fspath(source) == "-":
            yield sys.stdin.buffer
            return
        with open(source, "rb") as handle:
            yield handle
        return
    yield source


def _make_source(raw: BinaryIO, base: int = 0) -> _Src:
    head = b""
    while len(head) < 2:
        more = raw.read(CHUNK)
        if not more:
            break
        head += more
    if head.startswith(b"\x1f\x8b"):
        return _GzipSource(raw, head, base)
    return _PlainSource(raw, head, base)


def iter_records(
    source: Source, *, keep_block: KeepBlock = False, tolerant: bool = False
) -> Iterator[WarcRecord]:
    """Each record of a WARC stream (gzip-per-record or uncompressed), in order.

    ``source`` is a path, ``-`` for stdin, or a binary file object. Blocks are streamed through the
    digests; ``keep_block=True`` also keeps a copy (spilled to a temporary file past 1 MiB) on each
    record (or on those a predicate picks by header). By default any framing problem raises
    :class:`WarcFormatError`; ``tolerant=True`` reports problems a gzip member boundary lets the reader
    recover from as ``record.issues`` and goes on.
    """
    with open_source(source) as raw:
        src = _make_source(raw)
        yield from _iter_from(src, keep_block=keep_block, tolerant=tolerant, limit=None)


def read_record_at(path: str | os.PathLike[str], offset: int, *, keep_block: bool = True) -> WarcRecord:
    """The one record starting at ``offset`` of a seekable WARC file."""
    with open(path, "rb") as raw:
        raw.seek(offset)
        src = _make_source(raw, base=offset)
        for record in _iter_from(src, keep_block=keep_block, tolerant=False, limit=1):
            return record
    raise WarcFormatError(
        "record-framing", offset, f"no record starts at offset {offset} of {os.fspath(path)}"
    )


def _iter_from(
    src: _Src, *, keep_block: KeepBlock, tolerant: bool, limit: int | None
) -> Iterator[WarcRecord]:
    count = 0
    if isinstance(src, _GzipSource) and not src.start_member():
        return
    while limit is None or count < limit:
        if src.at_member_end():
            if isinstance(src, _PlainSource) or not src.start_member():
                return
            continue
        record = _read_record(src, keep_block=keep_block)
        hard = [issue for issue in record.issues if not tolerant]
        if hard:
            if record.block is not None:
                record.block.close()
            raise WarcFormatError(hard[0].rule, record.offset, hard[0].message)
        count += 1
        yield record


def _fatal_or_skip(src: _Src, record: WarcRecord, rule: str, message: str) -> WarcRecord:
    """Mark ``record`` broken; in a gzip stream skip to the member end, else stop reading."""
    record.broken = True
    record.issues.append(Issue(rule, message))
    if isinstance(src, _PlainSource):
        raise WarcFormatError(rule, record.offset, message + " (an uncompressed file cannot be read past it)")
    src.drain()
    record.length = src.member_end - record.offset
    return record


def _read_record(src: _Src, *, keep_block: KeepBlock) -> WarcRecord:
    record = WarcRecord(offset=src.position())
    record.member_aligned = src.at_member_start()
    if not record.member_aligned:
        record.issues.append(
            Issue("gzip-member-per-record", "this record shares a gzip member with the record before it")
        )
    # --- header section
    first = src.readline(64 * 1024)
    version = first.rstrip(b"\r\n")
    if not first.endswith(b"\r\n"):
        if not first.endswith(b"\n") and src.at_member_end() and isinstance(src, _PlainSource):
            raise WarcFormatError("truncated-tail", record.offset, "the file ends inside a record header")
        record.issues.append(Issue("record-framing", f"version line {version[:40]!r} does not end with CRLF"))
    record.version = version.decode("latin-1")
    if not version.startswith(b"WARC/"):
        return _fatal_or_skip(
            src, record, "version-line", f"record starts with {version[:40]!r}, not a WARC/1.1 version line"
        )
    if version != b"WARC/1.1":
        record.issues.append(Issue("version-line", f"version line is {record.version!r}, not 'WARC/1.1'"))
    head_bytes = len(first)
    while True:
        line = src.readline(64 * 1024)
        head_bytes += len(line)
        if not line.endswith(b"\n"):
            if isinstance(src, _PlainSource) and src.at_member_end():
                raise WarcFormatError("truncated-tail", record.offset, "the file ends inside a record header")
            return _fatal_or_skip(
                src, record, "record-framing", "record header is not terminated by CRLF CRLF"
            )
        if head_bytes > MAX_WARC_HEAD:
            return _fatal_or_skip(src, record, "record-framing", "record header runs past 1 MiB")
        if not line.endswith(b"\r\n"):
            record.issues.append(Issue("record-framing", f"header line {line[:60]!r} ends with LF, not CRLF"))
        text = line.rstrip(b"\r\n")
        if not text:
            break
        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError:
            decoded = text.decode("latin-1")
            record.issues.append(Issue("record-framing", f"header line {text[:60]!r} is not UTF-8"))
        if decoded[:1] in (" ", "\t") and record.headers:
            name, value = record.headers[-1]
            record.headers[-1] = (name, value + " " + decoded.strip())
            continue
        name, colon, value = decoded.partition(":")
        if not colon or not name or name != name.strip() or any(c in name for c in '()<>@,;\\"/[]?={} \t'):
            message = f"header line {decoded[:60]!r} is not 'Name: value'"
            record.issues.append(Issue("record-framing", message))
            continue
        record.headers.append((name, value.strip()))
    # --- block
    length_text = record.get("Content-Length")
    declared = record.content_length
    if declared is None:
        if length_text is None:
            return _fatal_or_skip(src, record, "mandatory-fields", "record has no Content-Length")
        message = f"Content-Length {length_text!r} is not a number"
        return _fatal_or_skip(src, record, "content-length", message)
    keep = keep_block(record) if callable(keep_block) else keep_block
    block_tail = _read_block(src, record, declared, keep_block=keep)
    if record.block_length < declared:
        if isinstance(src, _PlainSource):
            raise WarcFormatError(
                "truncated-tail",
                record.offset,
                f"the file ends inside a record: Content-Length {declared}, "
                f"{record.block_length} octets left",
            )
        record.broken = True
        record.issues.append(
            Issue(
                "content-length",
                f"Content-Length {declared} but the record's gzip member holds a block of "
                f"{record.block_length - 4} octets"
                if block_tail == b"\r\n\r\n"
                else f"Content-Length {declared} but the record's gzip member ends {record.block_length} "
                "octets into the block, without CRLF CRLF",
            )
        )
        record.length = src.member_end - record.offset
        return record
    # --- closing CRLF CRLF
    trailer = src.read(4)
    if isinstance(src, _PlainSource):
        if trailer != b"\r\n\r\n":
            if len(trailer) < 4 and src.at_member_end():
                message = "the file ends before the record's CRLF CRLF"
                raise WarcFormatError("truncated-tail", record.offset, message)
            raise WarcFormatError(
                "record-framing",
                record.offset,
                f"block of Content-Length {declared} is followed by {trailer!r}, not CRLF CRLF "
                "(a wrong Content-Length or a missing record end)",
            )
        record.length = src.position() - record.offset
        return record
    if trailer == b"\r\n\r\n" and (src.at_member_end() or src.peek(5) == b"WARC/"):
        if not src.at_member_end():
            # The next record shares this member: readable, but not gzip-per-record.
            record.issues.append(
                Issue(
                    "gzip-member-per-record", "the gzip member of this record holds another record after it"
                )
            )
            record.member_aligned = False
            return record
        record.length = src.member_end - record.offset
        return record
    extra, tail = src.drain()
    record.broken = True
    # With the member's end known, the true block length is what lies between header and final CRLF CRLF.
    rest = len(trailer) + extra
    if (block_tail + trailer + tail)[-4:] == b"\r\n\r\n":
        record.issues.append(
            Issue(
                "content-length",
                f"Content-Length {declared} but the record's gzip member holds a block of "
                f"{declared + rest - 4} octets",
            )
        )
    else:
        record.issues.append(
            Issue(
                "record-framing",
                f"block is not followed by CRLF CRLF at the end of the record (got {trailer!r})",
            )
        )
    record.length = src.member_end - record.offset
    return record


def _read_block(src: _Src, record: WarcRecord, declared: int, *, keep_block: bool) -> bytes:
    """Stream the block through digests (and a spool); returns its last four octets."""
    # sha1 always (what we write and what readers show); other algorithms only when a label names them.
    algorithms = {"sha1"}
    for name in ("WARC-Block-Digest", "WARC-Payload-Digest"):
        label = record.get(name) or ""
        algorithm = label.partition(":")[0].lower()
        if algorithm in ("sha256", "sha512", "md5"):
            algorithms.add(algorithm)

    def digesters() -> dict[str, Digester]:
        return {algorithm: Digester(algorithm) for algorithm in sorted(algorithms)}

    block_digests = digesters()
    record.block_digests = block_digests
    spool: IO[bytes] | None = None
    if keep_block:
        # Handed to the caller on the record, who closes it.
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    http_wanted = record.is_http
    head = bytearray()
    head_done = not http_wanted
    raw_payload: dict[str, Digester] | None = None
    dechunked: dict[str, Digester] | None = None
    dechunker: Dechunker | None = None
    remaining = declared
    read = 0
    last4 = b""

    def feed_payload(data: bytes) -> None:
        if raw_payload is None:
            return
        for digester in raw_payload.values():
            digester.update(data)
        if dechunker is not None and dechunked is not None:
            decoded = dechunker.feed(data)
            for digester in dechunked.values():
                digester.update(decoded)

    if not http_wanted:
        raw_payload = digesters()
    while remaining > 0:
        chunk = src.read(min(CHUNK, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        read += len(chunk)
        last4 = (last4 + chunk)[-4:]
        for digester in block_digests.values():
            digester.update(chunk)
        if spool is not None:
            spool.write(chunk)
        if head_done:
            feed_payload(chunk)
            continue
        start = max(0, len(head) - 3)
        head += chunk
        end = head.find(b"\r\n\r\n", start)
        if end < 0 and len(head) > MAX_HTTP_HEAD:
            record.issues.append(Issue("http-message", "HTTP header section runs past 1 MiB"))
            head_done = True
            continue
        if end < 0:
            continue
        record.http = parse_http_head(bytes(head[: end + 4]))
        head_done = True
        raw_payload = digesters()
        if _is_chunked(record.http):
            dechunker = Dechunker()
            dechunked = digesters()
        feed_payload(bytes(head[end + 4 :]))
        head.clear()
    record.block_length = read
    if http_wanted and record.http is None and not record.issues and remaining == 0:
        record.issues.append(Issue("http-message", "block has no HTTP header section ending in CRLF CRLF"))
    if dechunker is not None and dechunked is not None and dechunker.done and not dechunker.failed:
        record.payload_digests = dechunked
    else:
        record.payload_digests = raw_payload
    if spool is not None:
        spool.seek(0)
        record.block = spool
    return last4


def decode_content(chunks: Iterator[bytes], content_encoding: bytes | None) -> Iterator[bytes]:
    """Undo the content codings named in a ``Content-Encoding`` value (gzip, deflate, br), streaming.

    Codings are undone last-applied first; ``identity`` is skipped. An unknown coding raises
    ValueError naming it.
    """
    codings = [c.strip().lower() for c in (content_encoding or b"").split(b",") if c.strip()]
    stream = chunks
    for coding in reversed(codings):
        if coding in (b"identity", b""):
            continue
        if coding in (b"gzip", b"x-gzip"):
            stream = _inflate(stream, zlib.MAX_WBITS | 32)
        elif coding == b"deflate":
            stream = _inflate(stream, None)
        elif coding == b"br":
            stream = _unbrotli(stream)
        else:
            raise ValueError(
                f"Content-Encoding {coding.decode('latin-1')!r} cannot be decoded here; "
                "extract the raw payload with --raw"
            )
    return stream


def _inflate(chunks: Iterator[bytes], wbits: int | None) -> Iterator[bytes]:
    """Inflate a stream; ``wbits=None`` means HTTP "deflate": zlib-wrapped or raw, told by the first byte."""
    dec: zlib._Decompress | None = None if wbits is None else zlib.decompressobj(wbits)
    for chunk in chunks:
        data = chunk
        while data:
            if dec is None:
                dec = zlib.decompressobj(zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS)
            out = dec.decompress(data, CHUNK)  # bounded: a small body may inflate enormously
            if out:
                yield out
            data = dec.unconsumed_tail
            if dec.eof:
                if wbits is None or not dec.unused_data:
                    return
                # Several concatenated gzip members make one body.
                data = dec.unused_data
                dec = zlib.decompressobj(wbits)
    if dec is not None:
        tail = dec.flush()
        if tail:
            yield tail


def _unbrotli(chunks: Iterator[bytes]) -> Iterator[bytes]:
    try:
        import brotli
    except ImportError as exc:
        raise ValueError("Content-Encoding 'br' needs the brotli package: pip install brotli") from exc
    dec = brotli.Decompressor()
    for chunk in chunks:
        yield dec.process(chunk)
