"""The streaming reader: offsets and lengths, every kind of source, framing errors, payload decoding."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import pytest

from archive.reader import Dechunker, WarcFormatError, decode_content, iter_records, read_record_at
from tests.archive.warcfiles import GoodSet, build_good_set, compressed_members, records


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> GoodSet:
    return build_good_set(tmp_path_factory.mktemp("reader"))


def test_offsets_and_lengths_are_the_gzip_members(good: GoodSet) -> None:
    sizes = [len(m) for m in compressed_members(good.first)]
    offsets = [sum(sizes[:n]) for n in range(len(sizes))]
    got = [(r.offset, r.length) for r in iter_records(good.first)]
    assert got == list(zip(offsets, sizes, strict=True))


def test_path_file_object_and_stdin_agree(good: GoodSet, monkeypatch: pytest.MonkeyPatch) -> None:
    by_path = [(r.offset, r.record_id) for r in iter_records(good.first)]
    with open(good.first, "rb") as handle:
        by_handle = [(r.offset, r.record_id) for r in iter_records(handle)]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(good.first.read_bytes())))
    by_stdin = [(r.offset, r.record_id) for r in iter_records("-")]
    assert by_path == by_handle == by_stdin


def test_uncompressed_warc_offsets_are_byte_positions(good: GoodSet, tmp_path: Path) -> None:
    recs = records(good.first)
    plain = tmp_path / "plain.warc"
    plain.write_bytes(b"".join(recs))
    got = [(r.offset, r.length, r.type) for r in iter_records(plain)]
    offsets = [sum(len(r) for r in recs[:n]) for n in range(len(recs))]
    assert [(o, n) for o, n, _ in got] == list(zip(offsets, map(len, recs), strict=True))
    assert got[1][2] == "response"


def test_read_record_at_keeps_the_block(good: GoodSet) -> None:
    offset = [r.offset for r in iter_records(good.first)][3]
    record = read_record_at(good.first, offset)
    assert record.block is not None
    block = record.block.read()
    assert records(good.first)[3].endswith(block + b"\r\n\r\n")
    assert record.http is not None and record.http.status == 200


def test_strict_reading_raises_on_a_cut_file(good: GoodSet, tmp_path: Path) -> None:
    cut = tmp_path / "cut.warc.gz"
    data = good.first.read_bytes()
    cut.write_bytes(data[:-20])
    seen = []
    with pytest.raises(WarcFormatError) as error:
        for record in iter_records(cut):
            seen.append(record.type)
    assert error.value.rule == "truncated-tail"
    assert len(seen) == len(compressed_members(good.first)) - 1


def test_tolerant_reading_goes_past_a_bad_member(good: GoodSet, tmp_path: Path) -> None:
    recs = records(good.first)
    recs[1] = recs[1].replace(b"WARC/1.1", b"XARC/1.1", 1)
    bad = tmp_path / "bad.warc.gz"
    bad.write_bytes(b"".join(gzip.compress(r, mtime=0) for r in recs))
    got = list(iter_records(bad, tolerant=True))
    assert len(got) == len(recs)
    assert got[1].broken and got[1].issues[0].rule == "version-line"
    assert [r.type for r in got[2:]] == ["request", "response", "request", "metadata"]
    with pytest.raises(WarcFormatError, match="version-line"):
        list(iter_records(bad))


def test_dechunker() -> None:
    dechunker = Dechunker()
    framed = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
    out = b"".join(dechunker.feed(framed[i : i + 3]) for i in range(0, len(framed), 3))
    assert out == b"hello world" and dechunker.done and not dechunker.failed
    broken = Dechunker()
    broken.feed(b"zz\r\nhello")
    assert broken.failed


def test_decode_content_chains_and_refuses_unknown() -> None:
    body = b"abc" * 1000
    layered = zlib.compress(gzip.compress(body))
    assert b"".join(decode_content(iter([layered[:10], layered[10:]]), b"gzip, deflate")) == body
    assert b"".join(decode_content(iter([gzip.compress(b"a") + gzip.compress(b"b")]), b"gzip")) == b"ab"
    with pytest.raises(ValueError, match="'compress'"):
        list(decode_content(iter([b"x"]), b"compress"))
