"""Strict checker of the WARC/1.1 rules in WARC.md: every violation with its file, offset and rule id."""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from archive.digests import digest_matches, is_digest_label
from archive.reader import WarcFormatError, WarcRecord, iter_records
from archive.records import (
    PROFILE_IDENTICAL_PAYLOAD,
    PROFILE_SERVER_NOT_MODIFIED,
    TRUNCATION_REASONS,
    is_target_uri,
    is_warc_date,
)

#: Every rule the checker enforces, by id.
RULES: dict[str, str] = {
    "file-name": "files are closed and named {prefix}-{YYYYmmddHHMMSSfff}-{serial:05d}-{host}.warc.gz",
    "gzip-integrity": "every gzip member decompresses and its CRC and length match",
    "gzip-member-per-record": "each record is exactly one gzip member",
    "truncated-tail": "the file does not end inside a record",
    "record-framing": "WARC/1.1 CRLF, 'Name: value' CRLF fields, CRLF, block, CRLF CRLF",
    "version-line": "each record starts with the version line WARC/1.1",
    "mandatory-fields": "WARC-Record-ID, WARC-Date, WARC-Type and Content-Length are present",
    "record-id": "WARC-Record-ID is <urn:uuid:...>",
    "record-id-unique": "no two records share a WARC-Record-ID",
    "warc-date": "WARC-Date is UTC: YYYY-MM-DDThh:mm:ss[.f]Z",
    "content-length": "Content-Length is the number of block octets",
    "named-field-repeated": "no named field repeats, except WARC-Concurrent-To",
    "warc-type": "WARC-Type is one of the WARC/1.1 record types",
    "target-uri-ascii": "WARC-Target-URI (and WARC-Refers-To-Target-URI) is a bare ASCII RFC 3986 URI, "
    "no <...>",
    "target-uri-presence": "WARC-Target-URI is present on request/response/revisit/resource, absent on "
    "warcinfo",
    "content-type": "application/http;msgtype=request|response for exchanges, application/warc-fields for "
    "warcinfo and metadata",
    "http-message": "an application/http block holds an HTTP message of its msgtype",
    "ip-address": "a response has a valid WARC-IP-Address",
    "request-response-link": "a request names (WARC-Concurrent-To) a response or revisit of the same file "
    "and URI, and each response or revisit is so named (a file's last record may lack its request: a crash "
    "cut it)",
    "concurrent-date": "a request and its response share one WARC-Date",
    "block-digest": "WARC-Block-Digest is present, labelled sha1:/sha256:, and matches the block",
    "payload-digest": "WARC-Payload-Digest is present on responses and revisits and matches the payload "
    "(chunked framing removed, content coding kept)",
    "revisit-fields": "a revisit has a known WARC-Profile, WARC-Refers-To, WARC-Refers-To-Target-URI, "
    "WARC-Refers-To-Date, WARC-Truncated: length, and a block of HTTP headers only",
    "revisit-original": "a revisit refers to a response in another, closed file, with the same URI, date and "
    "payload digest",
    "truncated-field": "WARC-Truncated is length, time or disconnect",
    "warcinfo-first": "each file starts with a warcinfo record",
    "warcinfo-filename": "the warcinfo's WARC-Filename is the file's name",
    "warcinfo-fields": "the warcinfo block is application/warc-fields with software, format and hostname",
    "warcinfo-id": "WARC-Warcinfo-ID names a warcinfo record of the same file",
}

RECORD_TYPES = (
    "warcinfo",
    "response",
    "resource",
    "request",
    "metadata",
    "revisit",
    "conversion",
    "continuation",
)
_NEEDS_TARGET = {"request", "response", "revisit", "resource", "conversion", "continuation"}
_FILE_NAME = re.compile(r"^(?P<prefix>.+)-(?P<ts>\d{17})-(?P<serial>\d{5})-(?P<host>[^/]+)\.warc\.gz$")
_RECORD_ID = re.compile(
    r"^<urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}>$"
)
_STATUS_LINE = re.compile(rb"^HTTP/\d\.\d \d{3}( [^\r\n]*)?$")
_REQUEST_LINE = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [!-~]+ HTTP/\d\.\d$")
_CONTENT_TYPES = {
    "request": "application/http;msgtype=request",
    "response": "application/http;msgtype=response",
    "revisit": "application/http;msgtype=response",
    "warcinfo": "application/warc-fields",
    "metadata": "application/warc-fields",
}


@dataclass(frozen=True)
class Violation:
    """One broken rule: where, which, and what exactly."""

    path: str
    offset: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.offset}: {self.rule}: {self.message}"


@dataclass
class CheckReport:
    """The outcome of :func:`check`."""

    violations: list[Violation] = field(default_factory=list)
    files: int = 0
    records: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations

    def rules(self) -> set[str]:
        return {v.rule for v in self.violations}


@dataclass(frozen=True)
class _Original:
    path: Path
    offset: int
    type: str
    target_uri: str | None
    date: str
    payload_digest: str | None


@dataclass(frozen=True)
class _Revisit:
    path: Path
    offset: int
    refers_to: str
    target_uri: str | None
    date: str | None
    payload_digest: str | None


@dataclass
class _FileState:
    path: Path
    records: int = 0
    warcinfo_ids: set[str] = field(default_factory=set)
    warcinfo_refs: list[tuple[int, str]] = field(default_factory=list)
    #: id -> (offset, date, uri, position) of responses and revisits
    responses: dict[str, tuple[int, str, str | None, int]] = field(default_factory=dict)
    #: (offset, id, date, uri, concurrent-to ids) of requests
    requests: list[tuple[int, str, str, str | None, list[str]]] = field(default_factory=list)
    #: response id -> request ids it names itself
    response_links: dict[str, list[str]] = field(default_factory=dict)
    last_offset: int = -1


class _Checker:
    def __init__(self) -> None:
        self.report = CheckReport()
        self.seen_ids: dict[str, tuple[Path, int]] = {}
        self.originals: dict[str, _Original] = {}
        self.revisits: list[_Revisit] = []
        self.scanned: set[Path] = set()

    def fail(self, path: Path, offset: int, rule: str, message: str) -> None:
        self.report.violations.append(Violation(str(path), offset, rule, message))

    # --- files

    def check_file(self, path: Path) -> None:
        self.report.files += 1
        self.scanned.add(path.resolve())
        name = path.name
        if name.endswith(".open"):
            self.fail(
                path,
                0,
                "file-name",
                f"{name} was never closed; run `archive salvage {path.parent}` to keep its complete records",
            )
        elif not _FILE_NAME.match(name):
            self.fail(
                path,
                0,
                "file-name",
                f"{name} is not named {{prefix}}-{{YYYYmmddHHMMSSfff}}-{{serial:05d}}-{{host}}.warc.gz",
            )
        state = _FileState(path)
        try:
            with open(path, "rb") as handle:
                if handle.read(2) != b"\x1f\x8b":
                    self.fail(
                        path,
                        0,
                        "gzip-member-per-record",
                        f"{name} is not gzip-compressed; run `warcio recompress {name} {name}.gz`",
                    )
                handle.seek(0)
                keep = _is_first_warcinfo
                for record in iter_records(handle, tolerant=True, keep_block=keep):
                    self.check_record(state, record)
                    state.records += 1
                    state.last_offset = record.offset
        except WarcFormatError as exc:
            message = exc.message
            if exc.rule == "gzip-member-per-record" or exc.rule == "record-framing":
                message += f" ({name} is not gzip-per-record; rewrite it with `warcio recompress`)"
            self.fail(path, exc.offset, exc.rule, message)
        except OSError as exc:
            self.fail(path, 0, "truncated-tail", f"cannot read {path}: {exc}")
        if state.records == 0:
            self.fail(path, 0, "warcinfo-first", f"{name} holds no record, so no warcinfo record opens it")
        self.finish_file(state)
        self.report.records += state.records

    def finish_file(self, state: _FileState) -> None:
        path = state.path
        for offset, ref in state.warcinfo_refs:
            if ref not in state.warcinfo_ids:
                self.fail(
                    path,
                    offset,
                    "warcinfo-id",
                    f"WARC-Warcinfo-ID {ref} names no warcinfo record of this file",
                )
        linked: set[str] = set()
        for offset, request_id, date, uri, targets in state.requests:
            found = [t for t in targets if t in state.responses]
            if not found:
                named = ", ".join(targets) or "nothing"
                self.fail(
                    path,
                    offset,
                    "request-response-link",
                    f"request {request_id} names {named} in WARC-Concurrent-To: "
                    "no response or revisit of this file",
                )
                continue
            for target in found:
                linked.add(target)
                response_offset, response_date, response_uri, _ = state.responses[target]
                if response_date != date:
                    self.fail(
                        path,
                        offset,
                        "concurrent-date",
                        f"request WARC-Date {date} differs from its response's {response_date} "
                        f"(response at offset {response_offset})",
                    )
                if response_uri != uri:
                    self.fail(
                        path,
                        offset,
                        "request-response-link",
                        f"request for {uri} is linked to a response for {response_uri}",
                    )
        request_ids = {request_id for _, request_id, _, _, _ in state.requests}
        for response_id, names in state.response_links.items():
            if any(n in request_ids for n in names):
                linked.add(response_id)
        for response_id, (offset, _, uri, _) in state.responses.items():
            if response_id not in linked and offset != state.last_offset:
                self.fail(
                    path,
                    offset,
                    "request-response-link",
                    f"no request record names response {response_id} ({uri}) in WARC-Concurrent-To",
                )

    # --- records

    def check_record(self, state: _FileState, record: WarcRecord) -> None:
        path, offset = state.path, record.offset
        for issue in record.issues:
            self.fail(path, offset, issue.rule, issue.message)
        if record.broken:
            return
        counts: dict[str, int] = {}
        for name, _ in record.headers:
            counts[name.lower()] = counts.get(name.lower(), 0) + 1
        for name, count in counts.items():
            if count > 1 and name != "warc-concurrent-to":
                self.fail(path, offset, "named-field-repeated", f"{name} appears {count} times")
        missing = [
            n for n in ("WARC-Record-ID", "WARC-Date", "WARC-Type", "Content-Length") if record.get(n) is None
        ]
        if missing:
            self.fail(path, offset, "mandatory-fields", "missing " + ", ".join(missing))
        rtype = record.type
        record_id = record.record_id
        if record_id:
            if not _RECORD_ID.match(record_id):
                self.fail(path, offset, "record-id", f"WARC-Record-ID {record_id!r} is not <urn:uuid:...>")
            first = self.seen_ids.get(record_id)
            if first is not None:
                self.fail(
                    path,
                    offset,
                    "record-id-unique",
                    f"WARC-Record-ID {record_id} was already used at {first[0]}:{first[1]}",
                )
            else:
                self.seen_ids[record_id] = (path, offset)
        date = record.date
        if date and not is_warc_date(date):
            self.fail(path, offset, "warc-date", f"WARC-Date {date!r} is not UTC YYYY-MM-DDThh:mm:ss[.f]Z")
        if rtype and rtype not in RECORD_TYPES:
            self.fail(path, offset, "warc-type", f"WARC-Type {rtype!r} is not a WARC/1.1 record type")
        self.check_target(path, record)
        self.check_content_type(path, record)
        truncated = record.get("WARC-Truncated")
        if truncated is not None and truncated not in TRUNCATION_REASONS:
            self.fail(
                path,
                offset,
                "truncated-field",
                f"WARC-Truncated {truncated!r} is not length, time or disconnect",
            )
        if rtype == "response":
            ip = record.get("WARC-IP-Address")
            if ip is None:
                self.fail(path, offset, "ip-address", "response has no WARC-IP-Address")
            else:
                try:
                    ipaddress.ip_address(ip)
                except ValueError:
                    self.fail(path, offset, "ip-address", f"WARC-IP-Address {ip!r} is not an IP address")
        self.check_digests(path, record)
        if state.records == 0 and rtype != "warcinfo":
            self.fail(
                path, offset, "warcinfo-first", f"the first record is {rtype or 'untyped'}, not warcinfo"
            )
        if rtype == "warcinfo":
            self.check_warcinfo(state, record)
        warcinfo_ref = record.get("WARC-Warcinfo-ID")
        if warcinfo_ref is not None:
            state.warcinfo_refs.append((offset, warcinfo_ref))
        if rtype in ("response", "revisit") and record_id:
            state.responses[record_id] = (offset, date, record.target_uri, state.records)
            state.response_links[record_id] = record.get_all("WARC-Concurrent-To")
        if rtype == "request":
            state.requests.append(
                (offset, record_id, date, record.target_uri, record.get_all("WARC-Concurrent-To"))
            )
        if rtype in ("response", "resource") and record_id:
            self.originals[record_id] = _Original(
                path, offset, rtype, record.target_uri, date, record.get("WARC-Payload-Digest")
            )
        if rtype == "revisit":
            self.check_revisit(path, record)

    def check_target(self, path: Path, record: WarcRecord) -> None:
        offset, rtype = record.offset, record.type
        for name in ("WARC-Target-URI", "WARC-Refers-To-Target-URI"):
            value = record.get(name)
            if value is not None and not is_target_uri(value):
                self.fail(
                    path,
                    offset,
                    "target-uri-ascii",
                    f"{name} {value!r} is not a bare ASCII URI; percent-encode it and drop any <...>",
                )
        uri = record.target_uri
        if rtype in _NEEDS_TARGET and uri is None:
            self.fail(path, offset, "target-uri-presence", f"{rtype} record has no WARC-Target-URI")
        if rtype == "warcinfo" and uri is not None:
            self.fail(path, offset, "target-uri-presence", "warcinfo record must not have a WARC-Target-URI")

    def check_content_type(self, path: Path, record: WarcRecord) -> None:
        offset, rtype = record.offset, record.type
        declared = record.get("Content-Type")
        normal = (declared or "").replace(" ", "").replace("\t", "").lower()
        wanted = _CONTENT_TYPES.get(rtype)
        if wanted is not None and normal != wanted:
            self.fail(
                path, offset, "content-type", f"{rtype} record has Content-Type {declared!r}, not {wanted}"
            )
        elif wanted is None and declared is None and record.block_length > 0:
            self.fail(path, offset, "content-type", f"{rtype} record with a block has no Content-Type")
        if not normal.startswith("application/http"):
            return
        head = record.http
        if head is None:
            if not any(i.rule == "http-message" for i in record.issues):
                self.fail(path, offset, "http-message", "application/http block holds no HTTP header section")
            return
        if "msgtype=response" in normal and not _STATUS_LINE.match(head.start_line):
            self.fail(path, offset, "http-message", f"{head.start_line[:60]!r} is not an HTTP status line")
        if "msgtype=request" in normal and not _REQUEST_LINE.match(head.start_line):
            self.fail(path, offset, "http-message", f"{head.start_line[:60]!r} is not an HTTP request line")

    def check_digests(self, path: Path, record: WarcRecord) -> None:
        offset, rtype = record.offset, record.type
        block_label = record.get("WARC-Block-Digest")
        if block_label is None:
            self.fail(path, offset, "block-digest", "record has no WARC-Block-Digest")
        elif not is_digest_label(block_label):
            self.fail(
                path, offset, "block-digest", f"WARC-Block-Digest {block_label!r} is not sha1:/sha256:BASE32"
            )
        elif not digest_matches(block_label, record.block_digests):
            self.fail(
                path,
                offset,
                "block-digest",
                f"WARC-Block-Digest {block_label} does not match the block "
                f"({record.block_digests['sha1'].label()})",
            )
        payload_label = record.get("WARC-Payload-Digest")
        if payload_label is None:
            if rtype in ("response", "revisit"):
                self.fail(path, offset, "payload-digest", f"{rtype} record has no WARC-Payload-Digest")
            return
        if not is_digest_label(payload_label):
            self.fail(
                path,
                offset,
                "payload-digest",
                f"WARC-Payload-Digest {payload_label!r} is not sha1:/sha256:BASE32",
            )
            return
        if rtype == "revisit":
            return  # the payload is the original's: checked against it in revisit-original
        if record.payload_digests is None:
            return  # no HTTP head: reported as http-message
        if not digest_matches(payload_label, record.payload_digests):
            self.fail(
                path,
                offset,
                "payload-digest",
                f"WARC-Payload-Digest {payload_label} does not match the payload "
                f"({record.payload_digests['sha1'].label()}; chunked framing removed, content coding kept)",
            )

    def check_warcinfo(self, state: _FileState, record: WarcRecord) -> None:
        path, offset = state.path, record.offset
        state.warcinfo_ids.add(record.record_id)
        filename = record.get("WARC-Filename")
        expected = path.name.removesuffix(".open")
        if filename != expected:
            self.fail(
                path,
                offset,
                "warcinfo-filename",
                f"warcinfo WARC-Filename is {filename!r}, but the file is named {expected!r}",
            )
        if state.records != 0:
            return
        names = set(_warcinfo_field_names(record))
        missing = [n for n in ("software", "format", "hostname") if n not in names]
        if missing:
            self.fail(path, offset, "warcinfo-fields", "warcinfo block lacks " + ", ".join(missing))

    def check_revisit(self, path: Path, record: WarcRecord) -> None:
        offset = record.offset
        problems = []
        profile = record.get("WARC-Profile")
        if profile not in (PROFILE_IDENTICAL_PAYLOAD, PROFILE_SERVER_NOT_MODIFIED):
            problems.append(f"WARC-Profile {profile!r} is not a WARC/1.1 revisit profile")
        refers_to = record.get("WARC-Refers-To")
        if refers_to is None or not _RECORD_ID.match(refers_to):
            problems.append(f"WARC-Refers-To {refers_to!r} is not a record id")
        refers_uri = record.get("WARC-Refers-To-Target-URI")
        if refers_uri is None:
            problems.append("no WARC-Refers-To-Target-URI")
        refers_date = record.get("WARC-Refers-To-Date")
        if refers_date is None or not is_warc_date(refers_date):
            problems.append(f"WARC-Refers-To-Date {refers_date!r} is not a UTC WARC date")
        if record.get("WARC-Truncated") != "length":
            problems.append(f"WARC-Truncated is {record.get('WARC-Truncated')!r}, not 'length'")
        if profile == PROFILE_IDENTICAL_PAYLOAD and record.get("WARC-Payload-Digest") is None:
            problems.append("identical-payload-digest revisit has no WARC-Payload-Digest")
        if record.http is not None and record.block_length != record.http.length:
            extra = record.block_length - record.http.length
            problems.append(f"block holds {extra} octets past the HTTP headers")
        for problem in problems:
            self.fail(path, offset, "revisit-fields", problem)
        if refers_to:
            self.revisits.append(
                _Revisit(path, offset, refers_to, refers_uri, refers_date, record.get("WARC-Payload-Digest"))
            )

    # --- revisits, after every file is read

    def resolve_revisits(self, search_siblings: bool) -> None:
        missing = [r for r in self.revisits if r.refers_to not in self.originals]
        if missing and search_siblings:
            folders = {r.path.parent for r in missing}
            for folder in sorted(folders):
                for sibling in sorted(folder.glob("*.warc.gz")):
                    if sibling.resolve() in self.scanned:
                        continue
                    self.scanned.add(sibling.resolve())
                    self.scan_originals(sibling)
        for revisit in self.revisits:
            original = self.originals.get(revisit.refers_to)
            if original is None:
                self.fail(
                    revisit.path,
                    revisit.offset,
                    "revisit-original",
                    f"WARC-Refers-To {revisit.refers_to} is in no closed WARC file checked "
                    "or beside this one",
                )
                continue
            where = f"{original.path.name}:{original.offset}"
            if original.path.resolve() == revisit.path.resolve():
                self.fail(
                    revisit.path,
                    revisit.offset,
                    "revisit-original",
                    f"revisit refers to {revisit.refers_to} in its own file, "
                    "which was open when it was written",
                )
            elif not original.path.name.endswith(".warc.gz"):
                self.fail(
                    revisit.path,
                    revisit.offset,
                    "revisit-original",
                    f"revisit refers to {revisit.refers_to} in {original.path.name}, "
                    "which is not a closed WARC",
                )
            if original.type != "response":
                self.fail(
                    revisit.path,
                    revisit.offset,
                    "revisit-original",
                    f"{where} is a {original.type}, not a response",
                )
            for label, mine, theirs in (
                ("WARC-Refers-To-Target-URI", revisit.target_uri, original.target_uri),
                ("WARC-Refers-To-Date", revisit.date, original.date),
                ("WARC-Payload-Digest", revisit.payload_digest, original.payload_digest),
            ):
                if mine != theirs:
                    self.fail(
                        revisit.path,
                        revisit.offset,
                        "revisit-original",
                        f"{label} {mine!r} differs from the original's {theirs!r} at {where}",
                    )

    def scan_originals(self, path: Path) -> None:
        try:
            for record in iter_records(path, tolerant=True):
                if record.type in ("response", "resource") and record.record_id:
                    self.originals.setdefault(
                        record.record_id,
                        _Original(
                            path,
                            record.offset,
                            record.type,
                            record.target_uri,
                            record.date,
                            record.get("WARC-Payload-Digest"),
                        ),
                    )
        except (WarcFormatError, OSError):
            return  # that file's own check reports it; here it just holds no more originals


def _is_first_warcinfo(record: WarcRecord) -> bool:
    return record.type == "warcinfo" and record.offset == 0


def _warcinfo_field_names(record: WarcRecord) -> list[str]:
    if record.block is None:
        return []
    with record.block:
        text = record.block.read(1024 * 1024).decode("utf-8", "replace")
    return [line.split(":", 1)[0].strip() for line in text.splitlines() if ":" in line]


def check(paths: Iterable[str | Path], *, search_siblings: bool = True) -> CheckReport:
    """Check WARC files (directories: their ``*.warc.gz`` and ``*.warc.gz.open``) against every rule.

    Revisits whose originals are not among ``paths`` are resolved against the other ``*.warc.gz``
    files in the revisit's directory unless ``search_siblings`` is False.
    """
    checker = _Checker()
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files = sorted(
                p for p in path.iterdir() if p.name.endswith((".warc.gz", ".warc.gz.open", ".warc"))
            )
            for file in files:
                checker.check_file(file)
        else:
            checker.check_file(path)
    checker.resolve_revisits(search_siblings)
    return checker.report


def print_report(report: CheckReport, out: TextIO | None = None) -> None:
    """One line per violation (``file:offset: rule: message``), then a summary; on stdout by default."""
    out = out or sys.stdout
    for violation in report.violations:
        print(violation, file=out)
    if report.ok:
        print(f"OK: {report.records} records in {report.files} files follow every rule", file=out)
    else:
        rules = ", ".join(sorted(report.rules()))
        print(
            f"FAILED: {len(report.violations)} violations ({rules}) in {report.records} records "
            f"of {report.files} files",
            file=out,
        )
