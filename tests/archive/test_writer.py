"""WarcWriter: byte-exact records, rotation, crash-safe files, salvage and identical-payload dedup."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from archive.digests import SqliteDigestIndex
from archive.reader import iter_records
from archive.writer import DEDUP_MIN_PAYLOAD, WarcWriter, salvage
from tests.archive.conftest import T0, Clock, make_exchange, members, sequential_ids


def _sha1(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def test_response_and_request_records_are_byte_exact(tmp_path: Path) -> None:
    exchange = make_exchange(
        "http://example.com/a?b=1",
        b"hello",
        request_headers=[(b"Host", b"example.com")],
        response_headers=[(b"Content-Type", b"text/plain"), (b"Transfer-Encoding", b"chunked")],
    )
    with WarcWriter(tmp_path, prefix="t", hostname="h", clock=Clock(), record_id=sequential_ids()) as writer:
        written = writer.write_exchange(exchange)

    # The block, written out by hand: chunked framing gone, its header renamed, a true length added.
    block = (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/plain\r\n"
        b"X-Orig-Transfer-Encoding: chunked\r\n"
        b"Content-Length: 5\r\n"
        b"\r\n"
        b"hello"
    )
    assert len(block) == 104
    assert _sha1(block) == "sha1:X5VY2OXMHR3SS3CDV7MZLQ6C6HNJHOS3"
    assert _sha1(b"hello") == "sha1:VL2MMHO4YXUKFWV63YHTWSBM3GXKSQ2N"
    golden_response = (
        b"WARC/1.1\r\n"
        b"WARC-Type: response\r\n"
        b"WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000002>\r\n"
        b"WARC-Date: 2024-05-01T08:09:10Z\r\n"
        b"WARC-Target-URI: http://example.com/a?b=1\r\n"
        b"WARC-IP-Address: 127.0.0.1\r\n"
        b"WARC-Warcinfo-ID: <urn:uuid:00000000-0000-4000-8000-000000000001>\r\n"
        b"WARC-Block-Digest: sha1:X5VY2OXMHR3SS3CDV7MZLQ6C6HNJHOS3\r\n"
        b"WARC-Payload-Digest: sha1:VL2MMHO4YXUKFWV63YHTWSBM3GXKSQ2N\r\n"
        b"Content-Type: application/http;msgtype=response\r\n"
        b"Content-Length: 104\r\n"
        b"\r\n" + block + b"\r\n\r\n"
    )
    request_block = b"GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"
    assert len(request_block) == 42
    assert _sha1(request_block) == "sha1:SNBVKBBUEFGKMX3CXOK6GNEGIYO4PNXL"
    golden_request = (
        b"WARC/1.1\r\n"
        b"WARC-Type: request\r\n"
        b"WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000003>\r\n"
        b"WARC-Date: 2024-05-01T08:09:10Z\r\n"
        b"WARC-Target-URI: http://example.com/a?b=1\r\n"
        b"WARC-IP-Address: 127.0.0.1\r\n"
        b"WARC-Warcinfo-ID: <urn:uuid:00000000-0000-4000-8000-000000000001>\r\n"
        b"WARC-Concurrent-To: <urn:uuid:00000000-0000-4000-8000-000000000002>\r\n"
        b"WARC-Block-Digest: sha1:SNBVKBBUEFGKMX3CXOK6GNEGIYO4PNXL\r\n"
        b"WARC-Payload-Digest: sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ\r\n"
        b"Content-Type: application/http;msgtype=request\r\n"
        b"Content-Length: 42\r\n"
        b"\r\n" + request_block + b"\r\n\r\n"
    )
    path = tmp_path / "t-20240501080910000-00000-h.warc.gz"
    warcinfo, response, request = members(path)
    assert response == golden_response
    assert request == golden_request
    assert warcinfo.startswith(
        b"WARC/1.1\r\nWARC-Type: warcinfo\r\n"
        b"WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000001>\r\n"
        b"WARC-Date: 2024-05-01T08:09:10Z\r\n"
        b"WARC-Filename: t-20240501080910000-00000-h.warc.gz\r\n"
    )
    assert written.response_id == "<urn:uuid:00000000-0000-4000-8000-000000000002>"
    assert written.request_id == "<urn:uuid:00000000-0000-4000-8000-000000000003>"
    assert written.filename == path.name
    assert written.offset == _member_sizes(path)[0]  # right after the warcinfo record
    assert written.payload_digest == "sha1:VL2MMHO4YXUKFWV63YHTWSBM3GXKSQ2N"
    assert not written.revisit


def _member_sizes(path: Path) -> list[int]:
    import zlib

    data = path.read_bytes()
    sizes = []
    while data:
        dec = zlib.decompressobj(zlib.MAX_WBITS | 16)
        dec.decompress(data)
        sizes.append(len(data) - len(dec.unused_data))
        data = dec.unused_data
    return sizes


def test_raw_header_bytes_and_reason_are_kept(tmp_path: Path) -> None:
    gbk = "中文名".encode("gbk")
    exchange = make_exchange(
        reason=b"Not Found",
        status=404,
        response_headers=[(b"X-Name", gbk), (b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2")],
    )
    with WarcWriter(tmp_path, prefix="t", hostname="h") as writer:
        writer.write_exchange(exchange)
    (path,) = tmp_path.glob("*.warc.gz")
    response = list(members(path))[1]
    assert (
        b"\r\n\r\nHTTP/1.1 404 Not Found\r\nX-Name: "
        + gbk
        + b"\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"
        in (response)
    )


def test_truncated_body_gets_a_true_content_length_and_the_field(tmp_path: Path) -> None:
    exchange = make_exchange(
        payload=b"x" * 100,
        response_headers=[(b"Content-Length", b"5000")],
        truncated="length",
    )
    with WarcWriter(tmp_path, prefix="t", hostname="h") as writer:
        writer.write_exchange(exchange)
    (path,) = tmp_path.glob("*.warc.gz")
    response = next(r for r in iter_records(path) if r.type == "response")
    assert response.get("WARC-Truncated") == "length"
    assert response.http is not None
    assert response.http.headers == [(b"X-Orig-Content-Length", b"5000"), (b"Content-Length", b"100")]


def test_file_is_open_while_written_and_renamed_on_close(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, prefix="t", hostname="h")
    assert list(tmp_path.iterdir()) == []  # lazily opened
    writer.write_exchange(make_exchange())
    (open_file,) = tmp_path.iterdir()
    assert open_file.name.endswith(".warc.gz.open")
    writer.close()
    (closed,) = tmp_path.iterdir()
    assert closed.name == open_file.name[: -len(".open")]
    assert writer.closed_files == [closed]
    assert [r.type for r in iter_records(closed)] == ["warcinfo", "response", "request"]


def test_rotation_at_max_bytes(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, prefix="crawl", hostname="h", max_bytes=2000, clock=Clock())
    for n in range(6):
        # Incompressible bodies, so each exchange alone passes max_bytes.
        writer.write_exchange(make_exchange(f"http://example.com/{n}", random.Random(n).randbytes(2048)))
    writer.close()
    files = writer.closed_files
    assert len(files) == 6
    assert [f.name.split("-")[2] for f in files] == [f"{n:05d}" for n in range(6)]
    for path in files:
        assert [r.type for r in iter_records(path)] == ["warcinfo", "response", "request"]
    assert not list(tmp_path.glob("*.open"))


def test_revisit_across_writers_sharing_a_digest_index(tmp_path: Path) -> None:
    index = SqliteDigestIndex(tmp_path / "state.sqlite")
    body = b"<html>" + b"same body " * 100 + b"</html>"
    assert len(body) >= DEDUP_MIN_PAYLOAD
    first = WarcWriter(tmp_path / "warc", prefix="a", hostname="h", digest_index=index, clock=Clock())
    original = first.write_exchange(make_exchange("http://example.com/one", body))
    # The original's file is still open: no revisit may point into it.
    same_file = first.write_exchange(make_exchange("http://example.com/two", body))
    assert not same_file.revisit
    first.close()

    second = WarcWriter(tmp_path / "warc", prefix="b", hostname="h", digest_index=index, clock=Clock())
    revisit = second.write_exchange(make_exchange("http://example.com/three", body))
    tiny = second.write_exchange(make_exchange("http://example.com/four", b"ok"))
    cut = second.write_exchange(make_exchange("http://example.com/five", body, truncated="time"))
    second.close()

    assert revisit.revisit
    assert not tiny.revisit and not cut.revisit
    (record,) = [r for r in iter_records(second.closed_files[0]) if r.type == "revisit"]
    assert record.get("WARC-Refers-To") == original.response_id
    assert record.get("WARC-Refers-To-Target-URI") == "http://example.com/one"
    assert record.get("WARC-Refers-To-Date") == "2024-05-01T08:09:10Z"
    assert record.get("WARC-Profile") == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    assert record.get("WARC-Truncated") == "length"
    assert record.get("WARC-Payload-Digest") == original.payload_digest
    assert record.http is not None and record.block_length == record.http.length  # headers only
    looked_up = index.lookup(original.payload_digest)
    assert looked_up is not None and looked_up.filename == original.filename


def test_salvage_keeps_complete_records_and_cuts_the_partial_tail(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path / "live", prefix="t", hostname="h", clock=Clock())
    for n in range(3):
        writer.write_exchange(make_exchange(f"http://example.com/{n}", b"body %d" % n * 50))
    live = writer.current_file
    assert live is not None
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    copy = crashed / live.name
    shutil.copyfile(live, copy)
    writer.close()
    whole = copy.read_bytes()
    sizes = _member_sizes(copy)
    copy.write_bytes(whole[: len(whole) - sizes[-1] // 2])  # kill -9 in the middle of the last record

    restarted = WarcWriter(crashed, prefix="t", hostname="h", clock=Clock())
    (report,) = restarted.salvaged
    assert report.records == 6  # warcinfo, 2 full exchanges, the response of the third
    assert report.kept_bytes == sum(sizes[:-1])
    assert report.cut_bytes == len(whole) - sizes[-1] // 2 - sum(sizes[:-1])
    assert not report.removed
    assert report.path.name == live.name[: -len(".open")]
    assert [r.type for r in iter_records(report.path)][-1] == "response"
    assert not list(crashed.glob("*.open"))
    # The restarted writer never appends to the salvaged file.
    restarted.write_exchange(make_exchange())
    restarted.close()
    assert restarted.closed_files[0] != report.path


def test_salvage_removes_a_file_without_one_complete_record(tmp_path: Path) -> None:
    broken = tmp_path / "t-20240101000000000-00000-h.warc.gz.open"
    broken.write_bytes(b"\x1f\x8b\x08\x00")
    (report,) = salvage(tmp_path)
    assert report.removed and report.records == 0 and report.cut_bytes == 4
    assert not broken.exists()


def test_salvage_leaves_a_live_writers_file_alone(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, prefix="t", hostname="h")
    writer.write_exchange(make_exchange())
    assert salvage(tmp_path) == []
    assert writer.current_file is not None and writer.current_file.exists()
    writer.close()


def test_metadata_record(tmp_path: Path) -> None:
    with WarcWriter(tmp_path, prefix="t", hostname="h", clock=Clock(), record_id=sequential_ids()) as writer:
        written = writer.write_exchange(make_exchange())
        meta_id = writer.write_metadata(
            "http://example.com/page?id=1",
            written.response_id,
            [("outlink", "http://example.com/x"), ("via", "y")],
        )
    (path,) = tmp_path.glob("*.warc.gz")
    record = list(iter_records(path, keep_block=True))[-1]
    assert record.record_id == meta_id
    assert record.type == "metadata"
    assert record.get("WARC-Concurrent-To") == written.response_id
    assert record.get("Content-Type") == "application/warc-fields"
    assert record.block is not None
    assert record.block.read() == b"outlink: http://example.com/x\r\nvia: y\r\n"
    assert record.date == "2024-05-01T08:09:10.001000Z"  # the clock: file opened, then this


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"truncated": "size"}, "'size'"),
        ({"request_target": "/帖子"}, "'/帖子'"),
        ({"http_version": "HTTP/2.0.1"}, "'HTTP/2.0.1'"),
        ({"date": T0.replace(tzinfo=None)}, "2024-05-01T08:09:10"),
        ({"url": "/relative"}, "'/relative'"),
        ({"response_headers": [(b"X-A", b"1\r\nX-B: 2")]}, "X-A"),
        ({"request_headers": [(b"Host\n", b"x")]}, "Host"),
        ({"ip_address": "10.0.0.300"}, "'10.0.0.300'"),
    ],
)
def test_bad_exchanges_are_refused_naming_the_value(
    tmp_path: Path, change: dict[str, Any], named: str
) -> None:
    exchange = dataclasses.replace(make_exchange(), **change)
    writer = WarcWriter(tmp_path, prefix="t", hostname="h")
    with pytest.raises(ValueError, match=re.escape(named)):
        writer.write_exchange(exchange)
    writer.close()
    assert not list(tmp_path.iterdir())  # refused before any file was opened


def test_bad_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'a/b'"):
        WarcWriter(tmp_path, prefix="a/b", hostname="h")


def test_a_failed_request_write_takes_its_response_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = WarcWriter(tmp_path, prefix="t", hostname="h")
    writer.write_exchange(make_exchange("http://example.com/kept"))
    real = WarcWriter._write_record
    calls = []

    def disk_full_on_requests(self: WarcWriter, fields: list[tuple[str, str]], block: list[bytes]) -> int:
        calls.append(fields[0][1])
        if fields[0] == ("WARC-Type", "request"):
            raise OSError(28, "No space left on device")
        return real(self, fields, block)

    monkeypatch.setattr(WarcWriter, "_write_record", disk_full_on_requests)
    with pytest.raises(OSError, match="No space"):
        writer.write_exchange(make_exchange("http://example.com/lost"))
    monkeypatch.undo()
    assert calls == ["response", "request"]
    writer.write_exchange(make_exchange("http://example.com/after"))
    writer.close()
    (path,) = writer.closed_files
    assert [(r.type, r.target_uri) for r in iter_records(path)][1:] == [
        ("response", "http://example.com/kept"),
        ("request", "http://example.com/kept"),
        ("response", "http://example.com/after"),
        ("request", "http://example.com/after"),
    ]
