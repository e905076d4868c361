"""Writes exchanges as WARC/1.1 records into rotating, crash-safe, gzip-per-record ``.warc.gz`` files."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import re
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from archive import __version__
from archive.digests import Digester, DigestIndex, Original, sha1_label
from archive.reader import WarcFormatError, iter_records
from archive.records import (
    PROFILE_IDENTICAL_PAYLOAD,
    TRUNCATION_REASONS,
    HttpExchange,
    WrittenExchange,
    warc_date,
)
from archive.records import target_uri as bare_target_uri

#: Payloads shorter than this are always written in full: a revisit would save next to nothing, and
#: every empty or tiny body (redirects, 304s, "ok") would otherwise point at one arbitrary original.
DEDUP_MIN_PAYLOAD = 512

#: What the warcinfo record says about how records are rebuilt from what the HTTP client handed over.
RECONSTRUCTED_NOTE = (
    "HTTP messages are rebuilt from the values the HTTP client parsed: protocol, status code, reason "
    "phrase, header names, values and order as received, request-target as sent; the payload has its "
    "transfer coding removed (Transfer-Encoding kept as X-Orig-Transfer-Encoding, Content-Length set to "
    "the stored payload length, a differing received Content-Length kept as X-Orig-Content-Length) and "
    "keeps its content coding"
)

GZIP_LEVEL = 6
CRLF = b"\r\n"
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_FILE_SAFE = re.compile(r"^[A-Za-z0-9._\-]+$")
_OPEN_SUFFIX = ".warc.gz.open"


@dataclass(frozen=True)
class SalvageReport:
    """What :func:`salvage` did with one leftover ``.warc.gz.open`` file."""

    #: The closed ``.warc.gz`` file (or, when ``removed``, the deleted ``.open`` file).
    path: Path
    #: Complete records kept.
    records: int
    kept_bytes: int
    #: Bytes of partial tail cut off.
    cut_bytes: int
    #: True when not one complete record was left and the ``.open`` file was deleted.
    removed: bool
    #: Why the tail was cut ("" when the file ended cleanly after its last record).
    reason: str


def salvage(directory: Path | str) -> list[SalvageReport]:
    """Close every leftover ``*.warc.gz.open`` file in ``directory`` that no live writer holds.

    Each keeps every complete record; a partial tail is cut, then the file is flushed, fsynced and
    renamed to ``.warc.gz``. Files still locked by a running :class:`WarcWriter` are left alone.
    """
    folder = Path(directory)
    if not folder.is_dir():
        return []
    reports = []
    for path in sorted(folder.glob("*" + _OPEN_SUFFIX)):
        report = _salvage_one(path)
        if report is not None:
            reports.append(report)
    return reports


def _salvage_one(path: Path) -> SalvageReport | None:
    final = path.with_name(path.name[: -len(".open")])
    with open(path, "r+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # a live writer holds it
        size = os.fstat(handle.fileno()).st_size
        good_end = 0
        records = 0
        reason = ""
        try:
            for record in iter_records(handle, tolerant=True):
                if record.broken or not record.member_aligned:
                    reason = f"offset {record.offset}: " + "; ".join(i.message for i in record.issues)
                    break
                good_end = record.offset + record.length
                records += 1
        except WarcFormatError as exc:
            reason = str(exc)
        if good_end == 0:
            handle.close()
            path.unlink()
            _fsync_dir(path.parent)
            return SalvageReport(path, 0, 0, size, True, reason or "no complete record")
        handle.truncate(good_end)
        handle.flush()
        os.fsync(handle.fileno())
    if final.exists():
        raise FileExistsError(
            f"cannot salvage {path}: {final} already exists; "
            "move one of them aside and run `archive salvage` again"
        )
    os.rename(path, final)
    _fsync_dir(path.parent)
    return SalvageReport(final, records, good_end, size - good_end, False, reason)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _field_value(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"WARC field {name} value {value!r} holds a line break; pass a single-line value")
    return value


def _fields_block(fields: list[tuple[str, str]]) -> bytes:
    """An ``application/warc-fields`` block."""
    lines = []
    for name, value in fields:
        if not _TOKEN.match(name):
            raise ValueError(f"warc-fields name {name!r} is not a token; use letters, digits and '-'")
        lines.append(f"{name}: {_field_value(name, value)}\r\n".encode())
    return b"".join(lines)


def _header_lines(headers: list[tuple[bytes, bytes]], which: str) -> bytes:
    out = []
    for name, value in headers:
        if b"\r" in name + value or b"\n" in name + value or b":" in name or not name:
            raise ValueError(f"{which} header {name!r}: {value!r} cannot be written as one header line")
        out.append(name + b": " + value + CRLF)
    return b"".join(out)


def _response_headers(exchange: HttpExchange) -> list[tuple[bytes, bytes]]:
    """The response headers to store: transfer coding renamed away, a true Content-Length written."""
    payload_length = str(len(exchange.payload)).encode()
    bodiless = (
        exchange.method.upper() == "HEAD" or exchange.status in (204, 304) or 100 <= exchange.status < 200
    )
    has_te = any(name.lower() == b"transfer-encoding" for name, _ in exchange.response_headers)
    wrong_cl = any(
        name.lower() == b"content-length" and value.strip() != payload_length
        for name, value in exchange.response_headers
    )
    if bodiless or not (has_te or wrong_cl):
        return list(exchange.response_headers)
    out: list[tuple[bytes, bytes]] = []
    placed = False
    for name, value in exchange.response_headers:
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            out.append((b"X-Orig-Transfer-Encoding", value))
        elif lowered == b"content-length":
            out.append((b"X-Orig-Content-Length", value))
        else:
            out.append((name, value))
            continue
        if not placed:
            out.append((b"Content-Length", payload_length))
            placed = True
    return out


def _check_exchange(exchange: HttpExchange) -> None:
    if exchange.truncated is not None and exchange.truncated not in TRUNCATION_REASONS:
        raise ValueError(
            f"truncated={exchange.truncated!r} for {exchange.url}; use one of {', '.join(TRUNCATION_REASONS)}"
        )
    if not _TOKEN.match(exchange.method):
        raise ValueError(f"method {exchange.method!r} for {exchange.url} is not an HTTP token")
    target = exchange.request_target
    if not target.isascii() or any(c.isspace() for c in target) or not target:
        raise ValueError(
            f"request_target {target!r} for {exchange.url} is not ASCII without spaces; "
            "pass it as sent on the wire"
        )
    if not re.match(r"^HTTP/\d\.\d$", exchange.http_version):
        raise ValueError(f"http_version {exchange.http_version!r} for {exchange.url}; pass e.g. 'HTTP/1.1'")
    if not 100 <= exchange.status <= 999:
        raise ValueError(f"status {exchange.status} for {exchange.url} is not a three-digit HTTP status")
    if exchange.ip_address is not None:
        try:
            ipaddress.ip_address(exchange.ip_address)
        except ValueError:
            raise ValueError(
                f"ip_address {exchange.ip_address!r} for {exchange.url} is not an IP address; "
                "pass None if unknown"
            ) from None
    if b"\r" in exchange.reason or b"\n" in exchange.reason:
        raise ValueError(f"reason {exchange.reason!r} for {exchange.url} holds a line break")


class WarcWriter:
    """One open WARC file at a time, written record by record, renamed into place when complete.

    On construction leftover ``.open`` files in ``directory`` are salvaged (see :func:`salvage`); the
    writer never appends to them. Files are named
    ``{prefix}-{YYYYmmddHHMMSSfff}-{serial:05d}-{hostname}.warc.gz`` and are ``.open`` until closed;
    each starts with a warcinfo record, holds one gzip member per record, is flushed after each record
    and is closed (flush, fsync, rename) once it reaches ``max_bytes`` or on :meth:`close`.
    """

    def __init__(
        self,
        directory: Path,
        *,
        prefix: str,
        hostname: str,
        max_bytes: int = 1_000_000_000,
        warcinfo: dict[str, str] | None = None,
        digest_index: DigestIndex | None = None,
        clock: Callable[[], datetime] | None = None,
        record_id: Callable[[], str] | None = None,
    ) -> None:
        for label, value in (("prefix", prefix), ("hostname", hostname)):
            if not _FILE_SAFE.match(value):
                raise ValueError(
                    f"{label} {value!r} cannot go into a WARC file name; "
                    "use letters, digits, '.', '_' and '-'"
                )
        if max_bytes <= 0:
            raise ValueError(f"max_bytes {max_bytes} must be positive (about 1_000_000_000 is usual)")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.hostname = hostname
        self.max_bytes = max_bytes
        self.warcinfo = dict(warcinfo or {})
        self.digest_index = digest_index
        self._clock = clock or (lambda: datetime.now(UTC))
        self._record_id = record_id or (lambda: f"<urn:uuid:{uuid.uuid4()}>")
        self._file: BinaryIO | None = None
        self._open_path: Path | None = None
        self._name = ""
        self._size = 0
        self._serial = 0
        self._warcinfo_id = ""
        self._closed_files: list[Path] = []
        #: What salvaging leftover ``.open`` files found when this writer started.
        self.salvaged: list[SalvageReport] = salvage(self.directory)

    # --- public API

    @property
    def closed_files(self) -> list[Path]:
        """Files this writer closed, in order (for indexing)."""
        return list(self._closed_files)

    @property
    def current_file(self) -> Path | None:
        """The ``.open`` file being written, if any."""
        return self._open_path

    def write_exchange(self, exchange: HttpExchange) -> WrittenExchange:
        """Write the response (or an identical-payload-digest revisit) and then its request."""
        _check_exchange(exchange)
        date = warc_date(exchange.date)
        uri = bare_target_uri(exchange.url)
        payload_digest = sha1_label(exchange.payload)
        # Every part that can be refused is built before the file is touched.
        status_line = f"{exchange.http_version} {exchange.status} ".encode() + exchange.reason + CRLF
        head = status_line + _header_lines(_response_headers(exchange), "response") + CRLF
        request_line = f"{exchange.method} {exchange.request_target} {exchange.http_version}\r\n".encode()
        request_head = request_line + _header_lines(exchange.request_headers, "request") + CRLF
        self._ensure_file()
        response_id = self._new_id()
        request_id = self._new_id()
        dedup = (
            self.digest_index is not None
            and exchange.truncated is None
            and len(exchange.payload) >= DEDUP_MIN_PAYLOAD
        )
        original = self.digest_index.lookup(payload_digest) if dedup and self.digest_index else None
        if original is not None and original.filename == self._name:
            original = None  # never refer into the file still being written
        common: list[tuple[str, str]] = [
            ("WARC-Record-ID", response_id),
            ("WARC-Date", date),
            ("WARC-Target-URI", uri),
        ]
        if exchange.ip_address:
            common.append(("WARC-IP-Address", exchange.ip_address))
        common.append(("WARC-Warcinfo-ID", self._warcinfo_id))
        if original is not None:
            fields = [
                ("WARC-Type", "revisit"),
                *common,
                ("WARC-Profile", PROFILE_IDENTICAL_PAYLOAD),
                ("WARC-Refers-To", original.record_id),
                ("WARC-Refers-To-Target-URI", original.target_uri),
                ("WARC-Refers-To-Date", original.date),
                ("WARC-Truncated", "length"),
                ("WARC-Block-Digest", sha1_label(head)),
                ("WARC-Payload-Digest", payload_digest),
                ("Content-Type", "application/http;msgtype=response"),
            ]
            offset = self._write_record(fields, [head])
        else:
            fields = [("WARC-Type", "response"), *common]
            if exchange.truncated:
                fields.append(("WARC-Truncated", exchange.truncated))
            fields += [
                ("WARC-Block-Digest", _block_digest(head, exchange.payload)),
                ("WARC-Payload-Digest", payload_digest),
                ("Content-Type", "application/http;msgtype=response"),
            ]
            offset = self._write_record(fields, [head, exchange.payload])
        request_fields = [
            ("WARC-Type", "request"),
            ("WARC-Record-ID", request_id),
            ("WARC-Date", date),
            ("WARC-Target-URI", uri),
        ]
        if exchange.ip_address:
            request_fields.append(("WARC-IP-Address", exchange.ip_address))
        request_fields += [
            ("WARC-Warcinfo-ID", self._warcinfo_id),
            ("WARC-Concurrent-To", response_id),
            ("WARC-Block-Digest", _block_digest(request_head, exchange.request_body)),
            ("WARC-Payload-Digest", sha1_label(exchange.request_body)),
            ("Content-Type", "application/http;msgtype=request"),
        ]
        try:
            self._write_record(request_fields, [request_head, exchange.request_body])
        except BaseException:
            self._truncate_to(offset)  # a response never stays without its request
            raise
        filename = self._name
        if original is None and dedup and self.digest_index is not None:
            self.digest_index.add_pending(
                payload_digest, Original(record_id=response_id, target_uri=uri, date=date, filename=filename)
            )
        written = WrittenExchange(
            response_id=response_id,
            request_id=request_id,
            revisit=original is not None,
            filename=filename,
            offset=offset,
            payload_digest=payload_digest,
        )
        self._rotate_if_full()
        return written

    def write_metadata(
        self,
        target_uri: str,
        concurrent_to: str,
        fields: list[tuple[str, str]],
        date: datetime | None = None,
    ) -> str:
        """Write an ``application/warc-fields`` metadata record about ``target_uri``; returns its id."""
        if not re.match(r"^<[^<>\s]+>$", concurrent_to):
            raise ValueError(f"concurrent_to {concurrent_to!r} is not a record id like '<urn:uuid:...>'")
        block = _fields_block(fields)
        uri = bare_target_uri(target_uri)
        self._ensure_file()
        record_id = self._new_id()
        header = [
            ("WARC-Type", "metadata"),
            ("WARC-Record-ID", record_id),
            ("WARC-Date", warc_date(date or self._clock())),
            ("WARC-Target-URI", uri),
            ("WARC-Warcinfo-ID", self._warcinfo_id),
            ("WARC-Concurrent-To", concurrent_to),
            ("WARC-Block-Digest", sha1_label(block)),
            ("Content-Type", "application/warc-fields"),
        ]
        self._write_record(header, [block])
        self._rotate_if_full()
        return record_id

    def close(self) -> None:
        """Flush, fsync and rename the open file (if any), and tell the digest index it closed."""
        if self._file is None or self._open_path is None:
            return
        handle, open_path = self._file, self._open_path
        self._file = None
        self._open_path = None
        handle.flush()
        os.fsync(handle.fileno())
        final = open_path.with_name(self._name)
        os.rename(open_path, final)
        _fsync_dir(self.directory)
        handle.close()  # releases the lock only once the final name is in place
        self._closed_files.append(final)
        if self.digest_index is not None:
            self.digest_index.file_closed(self._name)

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- internals

    def _new_id(self) -> str:
        value = self._record_id()
        if not re.match(r"^<urn:uuid:[0-9a-fA-F-]{36}>$", value):
            raise ValueError(f"record id {value!r} is not '<urn:uuid:...>'; fix the record_id callable")
        return value

    def _rotate_if_full(self) -> None:
        if self._file is not None and self._size >= self.max_bytes:
            self.close()

    def _ensure_file(self) -> None:
        if self._file is not None:
            return
        now = self._clock()
        stamp = now.astimezone(UTC).strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"
        while True:
            name = f"{self.prefix}-{stamp}-{self._serial:05d}-{self.hostname}.warc.gz"
            open_path = self.directory / (name + ".open")
            self._serial += 1
            if (self.directory / name).exists():
                continue
            try:
                handle = open(open_path, "xb")  # noqa: SIM115 (kept open across calls, closed by close())
            except FileExistsError:
                continue
            break
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._file, self._open_path, self._name, self._size = handle, open_path, name, 0
        info = self._warcinfo_fields()
        block = _fields_block(info)
        self._warcinfo_id = self._new_id()
        self._write_record(
            [
                ("WARC-Type", "warcinfo"),
                ("WARC-Record-ID", self._warcinfo_id),
                ("WARC-Date", warc_date(now)),
                ("WARC-Filename", name),
                ("WARC-Block-Digest", sha1_label(block)),
                ("Content-Type", "application/warc-fields"),
            ],
            [block],
        )

    def _warcinfo_fields(self) -> list[tuple[str, str]]:
        defaults = {
            "software": f"archival-crawler/{__version__} (archive.writer)",
            "format": "WARC File Format 1.1",
            "conformsTo": "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "hostname": self.hostname,
        }
        merged = {**defaults, **self.warcinfo}
        merged.setdefault("reconstructed", RECONSTRUCTED_NOTE)
        return list(merged.items())

    def _write_record(self, fields: list[tuple[str, str]], block: list[bytes]) -> int:
        """Write one record as one gzip member, flushed; returns its offset."""
        handle = self._file
        assert handle is not None
        length = sum(len(part) for part in block)
        lines = [f"{name}: {_field_value(name, value)}\r\n" for name, value in fields]
        header = "WARC/1.1\r\n" + "".join(lines)
        header += f"Content-Length: {length}\r\n\r\n"
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        parts = [compressor.compress(header.encode("utf-8"))]
        parts += [compressor.compress(part) for part in block]
        parts += [compressor.compress(b"\r\n\r\n"), compressor.flush()]
        member = b"".join(parts)
        offset = self._size
        try:
            handle.write(member)
            handle.flush()
        except BaseException:
            # Never leave half a member behind for the next record to follow.
            self._truncate_to(offset)
            raise
        self._size += len(member)
        return offset

    def _truncate_to(self, offset: int) -> None:
        handle = self._file
        if handle is None:
            return
        with contextlib.suppress(OSError):
            handle.flush()
        with contextlib.suppress(OSError):
            handle.truncate(offset)
            handle.seek(offset)
            self._size = offset


def _block_digest(head: bytes, body: bytes) -> str:
    digester = Digester("sha1")
    digester.update(head)
    digester.update(body)
    return digester.label()
