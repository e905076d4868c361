"""The strict checker passes the writer's files and fails each rule when a file is broken that way."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from archive.check import RULES, check
from archive.reader import iter_records
from tests.archive.warcfiles import (
    HTML,
    GoodSet,
    add_line,
    block_of,
    build_good_set,
    compressed_members,
    field,
    records,
    set_block,
    set_field,
    sha1,
    write_records,
)

# Record positions in the good set (see build_good_set).
WARCINFO, PAGE, PAGE_REQ, GBK, GBK_REQ, META = range(6)
REVISIT, REVISIT_REQ, CUT, CUT_REQ = 1, 2, 3, 4


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> GoodSet:
    return build_good_set(tmp_path_factory.mktemp("good"))


@pytest.fixture
def good(template: GoodSet, tmp_path: Path) -> GoodSet:
    directory = tmp_path / "warc"
    shutil.copytree(template.directory, directory)
    return GoodSet(directory, directory / template.first.name, directory / template.second.name)


def edit(path: Path, position: int, change: Callable[[bytes], bytes]) -> None:
    recs = records(path)
    recs[position] = change(recs[position])
    write_records(path, recs)


def test_good_set_passes(good: GoodSet) -> None:
    report = check([good.directory])
    assert report.violations == []
    assert report.files == 2 and report.records == 11


# One breaker per rule: each changes the good set in exactly that way.


def break_file_name(g: GoodSet) -> None:
    g.first.rename(g.directory / "crawl.warc.gz")


def break_file_left_open(g: GoodSet) -> None:
    g.second.rename(g.second.with_name(g.second.name + ".open"))


def break_gzip_integrity(g: GoodSet) -> None:
    members = compressed_members(g.first)
    bad = bytearray(members[PAGE])
    bad[-8] ^= 0xFF  # the member's CRC32
    members[PAGE] = bytes(bad)
    g.first.write_bytes(b"".join(members))


def break_gzip_member_per_record(g: GoodSet) -> None:
    recs = records(g.first)
    members = [gzip.compress(r, mtime=0) for r in recs]
    members[PAGE : PAGE_REQ + 1] = [gzip.compress(recs[PAGE] + recs[PAGE_REQ], mtime=0)]
    g.first.write_bytes(b"".join(members))


def break_truncated_tail(g: GoodSet) -> None:
    data = g.second.read_bytes()
    g.second.write_bytes(data[: len(data) - len(compressed_members(g.second)[-1]) // 2])


def break_record_framing(g: GoodSet) -> None:
    edit(g.first, META, lambda r: r[:-4] + b"\r\nXX")


def break_version_line(g: GoodSet) -> None:
    edit(g.first, PAGE, lambda r: r.replace(b"WARC/1.1", b"WARC/1.0", 1))


def break_mandatory_fields(g: GoodSet) -> None:
    edit(g.first, META, lambda r: set_field(r, "WARC-Date", None))


def break_record_id(g: GoodSet) -> None:
    edit(g.first, META, lambda r: set_field(r, "WARC-Record-ID", "<urn:x:1>"))


def break_record_id_unique(g: GoodSet) -> None:
    recs = records(g.first)
    recs[META] = set_field(recs[META], "WARC-Record-ID", field(recs[GBK], "WARC-Record-ID"))
    write_records(g.first, recs)


def break_warc_date(g: GoodSet) -> None:
    edit(g.first, META, lambda r: set_field(r, "WARC-Date", "2024-05-01T16:09:10+08:00"))


def break_content_length(g: GoodSet) -> None:
    edit(g.first, GBK, lambda r: set_field(r, "Content-Length", str(int(field(r, "Content-Length")) + 3)))


def break_content_length_short(g: GoodSet) -> None:
    edit(g.first, GBK, lambda r: set_field(r, "Content-Length", str(int(field(r, "Content-Length")) - 3)))


def break_named_field_repeated(g: GoodSet) -> None:
    edit(g.first, GBK, lambda r: add_line(r, b"WARC-Target-URI: " + field(r, "WARC-Target-URI").encode()))


def break_warc_type(g: GoodSet) -> None:
    edit(g.first, META, lambda r: set_field(r, "WARC-Type", "metadatum"))


def break_target_uri_ascii(g: GoodSet) -> None:
    edit(g.first, META, lambda r: set_field(r, "WARC-Target-URI", "http://bbs.example.com/帖子".encode()))


def break_target_uri_bracketed(g: GoodSet) -> None:
    edit(g.first, META, lambda r: set_field(r, "WARC-Target-URI", "<http://bbs.example.com/x>"))


def break_target_uri_presence(g: GoodSet) -> None:
    edit(g.first, WARCINFO, lambda r: set_field(r, "WARC-Target-URI", "http://bbs.example.com/"))


def break_content_type(g: GoodSet) -> None:
    edit(g.first, GBK_REQ, lambda r: set_field(r, "Content-Type", "application/http;msgtype=response"))


def break_http_message(g: GoodSet) -> None:
    edit(g.first, GBK, lambda r: set_block(r, block_of(r).replace(b"HTTP/1.1 200 OK", b"HTTP/1.1 2OO OK", 1)))


def break_ip_address(g: GoodSet) -> None:
    edit(g.first, GBK, lambda r: set_field(r, "WARC-IP-Address", None))


def break_request_response_link(g: GoodSet) -> None:
    edit(g.first, GBK_REQ, lambda r: set_field(r, "WARC-Concurrent-To", None))


def break_concurrent_date(g: GoodSet) -> None:
    edit(g.first, GBK_REQ, lambda r: set_field(r, "WARC-Date", "2024-05-01T08:09:11Z"))


def break_block_digest(g: GoodSet) -> None:
    edit(g.first, GBK, lambda r: set_field(r, "WARC-Block-Digest", sha1(b"other")))


def break_payload_digest(g: GoodSet) -> None:
    # The usual mistake: hashing the payload after content decoding.
    edit(g.first, PAGE, lambda r: set_field(r, "WARC-Payload-Digest", sha1(HTML)))


def break_revisit_fields(g: GoodSet) -> None:
    edit(g.second, REVISIT, lambda r: set_field(r, "WARC-Profile", None))


def break_revisit_body(g: GoodSet) -> None:
    edit(g.second, REVISIT, lambda r: set_block(r, block_of(r) + b"<html>"))


def break_revisit_original(g: GoodSet) -> None:
    edit(
        g.second,
        REVISIT,
        lambda r: set_field(r, "WARC-Refers-To", "<urn:uuid:00000000-0000-4000-8000-000000009999>"),
    )


def break_revisit_original_date(g: GoodSet) -> None:
    edit(g.second, REVISIT, lambda r: set_field(r, "WARC-Refers-To-Date", "2020-01-01T00:00:00Z"))


def break_revisit_original_open(g: GoodSet) -> None:
    g.first.rename(g.first.with_name(g.first.name + ".open"))


def break_truncated_field(g: GoodSet) -> None:
    edit(g.second, CUT, lambda r: set_field(r, "WARC-Truncated", "size"))


def break_warcinfo_first(g: GoodSet) -> None:
    recs = records(g.second)
    write_records(g.second, recs[1:])


def break_warcinfo_filename(g: GoodSet) -> None:
    g.first.rename(g.directory / "crawl-20240101000000000-00009-h.warc.gz")


def break_warcinfo_fields(g: GoodSet) -> None:
    def drop_software(rec: bytes) -> bytes:
        lines = block_of(rec).split(b"\r\n")
        return set_block(rec, b"\r\n".join(line for line in lines if not line.startswith(b"software:")))

    edit(g.first, WARCINFO, drop_software)


def break_warcinfo_id(g: GoodSet) -> None:
    other = field(records(g.second)[WARCINFO], "WARC-Record-ID")
    edit(g.first, GBK, lambda r: set_field(r, "WARC-Warcinfo-ID", other))


CASES: list[tuple[str, Callable[[GoodSet], None]]] = [
    ("file-name", break_file_name),
    ("file-name", break_file_left_open),
    ("gzip-integrity", break_gzip_integrity),
    ("gzip-member-per-record", break_gzip_member_per_record),
    ("truncated-tail", break_truncated_tail),
    ("record-framing", break_record_framing),
    ("version-line", break_version_line),
    ("mandatory-fields", break_mandatory_fields),
    ("record-id", break_record_id),
    ("record-id-unique", break_record_id_unique),
    ("warc-date", break_warc_date),
    ("content-length", break_content_length),
    ("content-length", break_content_length_short),
    ("named-field-repeated", break_named_field_repeated),
    ("warc-type", break_warc_type),
    ("target-uri-ascii", break_target_uri_ascii),
    ("target-uri-ascii", break_target_uri_bracketed),
    ("target-uri-presence", break_target_uri_presence),
    ("content-type", break_content_type),
    ("http-message", break_http_message),
    ("ip-address", break_ip_address),
    ("request-response-link", break_request_response_link),
    ("concurrent-date", break_concurrent_date),
    ("block-digest", break_block_digest),
    ("payload-digest", break_payload_digest),
    ("revisit-fields", break_revisit_fields),
    ("revisit-fields", break_revisit_body),
    ("revisit-original", break_revisit_original),
    ("revisit-original", break_revisit_original_date),
    ("revisit-original", break_revisit_original_open),
    ("truncated-field", break_truncated_field),
    ("warcinfo-first", break_warcinfo_first),
    ("warcinfo-filename", break_warcinfo_filename),
    ("warcinfo-fields", break_warcinfo_fields),
    ("warcinfo-id", break_warcinfo_id),
]


def test_every_rule_has_a_breaking_case() -> None:
    assert {rule for rule, _ in CASES} == set(RULES)


@pytest.mark.parametrize(
    ("rule", "breaker"), CASES, ids=[b.__name__.removeprefix("break_") for _, b in CASES]
)
def test_breaking_a_rule_fails_the_check_naming_it(
    good: GoodSet, rule: str, breaker: Callable[[GoodSet], None]
) -> None:
    breaker(good)
    report = check([good.directory])
    assert not report.ok
    assert rule in report.rules(), [str(v) for v in report.violations]
    violation = next(v for v in report.violations if v.rule == rule)
    assert str(violation).startswith(f"{violation.path}:{violation.offset}: {rule}: ")


def test_violation_names_file_and_offset_of_the_broken_record(good: GoodSet) -> None:
    break_ip_address(good)
    offsets = [r.offset for r in iter_records(good.first)]
    (violation,) = check([good.first]).violations
    assert (violation.path, violation.offset, violation.rule) == (str(good.first), offsets[GBK], "ip-address")


def test_payload_digest_is_taken_after_chunked_framing(good: GoodSet) -> None:
    """Another tool's record that kept chunked framing in its block passes when digested dechunked."""

    def chunk(rec: bytes) -> bytes:
        head, _, body = block_of(rec).partition(b"\r\n\r\n")
        lines = [
            b"Transfer-Encoding: chunked" if h.startswith(b"X-Orig-Transfer-Encoding") else h
            for h in head.split(b"\r\n")
        ]
        lines = [h for h in lines if not h.startswith(b"Content-Length")]
        framed = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (100, body[:100], len(body) - 100, body[100:])
        return set_block(rec, b"\r\n".join(lines) + b"\r\n\r\n" + framed)

    edit(good.first, PAGE, chunk)
    assert check([good.directory]).violations == []
    edit(
        good.first,
        PAGE,
        lambda r: set_field(r, "WARC-Payload-Digest", sha1(block_of(r).partition(b"\r\n\r\n")[2])),
    )
    # The revisit of that page now disagrees with its original's digest too.
    assert check([good.directory]).rules() == {"payload-digest", "revisit-original"}


def test_revisit_original_is_found_beside_the_checked_file(good: GoodSet) -> None:
    assert check([good.second]).ok
    assert check([good.second], search_siblings=False).rules() == {"revisit-original"}
