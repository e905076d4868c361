"""A small good WARC set built by the writer, and helpers to break its files in exact ways."""

from __future__ import annotations

import base64
import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

from archive.digests import SqliteDigestIndex
from archive.writer import WarcWriter
from tests.archive.conftest import Clock, make_exchange, sequential_ids

#: A page body long enough to be deduplicated, gzip content-encoded as a server would send it.
HTML = (
    "<html><head><title>帖子 第一页</title></head><body>"
    + "".join(f"<p>内容 {hashlib.sha1(bytes([i])).hexdigest()}</p>" for i in range(40))
    + "</body></html>"
).encode("utf-8")
HTML_GZ = gzip.compress(HTML, mtime=0)


@dataclass
class GoodSet:
    """Paths of the good set: ``first`` holds originals, ``second`` a revisit of ``first``'s page."""

    directory: Path
    first: Path
    second: Path


def build_good_set(directory: Path) -> GoodSet:
    """Two closed WARC files covering every kind of record the writer makes.

    ``first``: warcinfo, response+request (chunked, gzip content-encoded), response+request (GBK header,
    Chinese path, query string), metadata. ``second``: warcinfo, revisit+request of the first page,
    response+request cut by a size limit.
    """
    warc_dir = directory / "warc"
    index = SqliteDigestIndex(directory / "state.sqlite")
    clock = Clock()
    ids = sequential_ids()
    first = WarcWriter(warc_dir, prefix="crawl", hostname="h", digest_index=index, clock=clock, record_id=ids)
    page = first.write_exchange(
        make_exchange(
            "http://bbs.example.com/thread-1-1-1.html",
            HTML_GZ,
            response_headers=[
                (b"Content-Type", b"text/html; charset=utf-8"),
                (b"Transfer-Encoding", b"chunked"),
                (b"Content-Encoding", b"gzip"),
            ],
        )
    )
    gbk_page = "<html><title>第二</title></html>".encode("gbk")
    first.write_exchange(
        make_exchange(
            "http://bbs.example.com/论坛/forum.php?mod=viewthread&tid=2&extra=页",
            gbk_page,
            response_headers=[
                (b"Content-Type", b"text/html; charset=gbk"),
                (b"X-Forum", "论坛".encode("gbk")),
                (b"Content-Length", str(len(gbk_page)).encode()),
            ],
        )
    )
    first.write_metadata(
        "http://bbs.example.com/thread-1-1-1.html",
        page.response_id,
        [("outlink", "http://bbs.example.com/x")],
    )
    first.close()
    second = WarcWriter(
        warc_dir, prefix="crawl", hostname="h", digest_index=index, clock=clock, record_id=ids
    )
    again = second.write_exchange(
        make_exchange(
            "http://bbs.example.com/thread-1-1-1.html?from=list",
            HTML_GZ,
            response_headers=[
                (b"Content-Type", b"text/html; charset=utf-8"),
                (b"Content-Encoding", b"gzip"),
                (b"Content-Length", str(len(HTML_GZ)).encode()),
            ],
        )
    )
    assert again.revisit, "HTML_GZ must be at least DEDUP_MIN_PAYLOAD bytes"
    second.write_exchange(
        make_exchange(
            "http://bbs.example.com/big.zip",
            b"PK" * 300,
            response_headers=[(b"Content-Length", b"99999")],
            truncated="length",
        )
    )
    second.close()
    index.close()
    return GoodSet(warc_dir, first.closed_files[0], second.closed_files[0])


# --- breaking files


def compressed_members(path: Path) -> list[bytes]:
    data = path.read_bytes()
    out = []
    while data:
        dec = zlib.decompressobj(zlib.MAX_WBITS | 16)
        dec.decompress(data)
        size = len(data) - len(dec.unused_data)
        out.append(data[:size])
        data = data[size:]
    return out


def records(path: Path) -> list[bytes]:
    return [gzip.decompress(member) for member in compressed_members(path)]


def write_records(path: Path, recs: list[bytes]) -> None:
    path.write_bytes(b"".join(gzip.compress(rec, mtime=0) for rec in recs))


def sha1(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def split(rec: bytes) -> tuple[list[bytes], bytes]:
    head, _, rest = rec.partition(b"\r\n\r\n")
    assert rest.endswith(b"\r\n\r\n")
    return head.split(b"\r\n"), rest[:-4]


def join(lines: list[bytes], block: bytes) -> bytes:
    return b"\r\n".join(lines) + b"\r\n\r\n" + block + b"\r\n\r\n"


def field(rec: bytes, name: str) -> str:
    lines, _ = split(rec)
    prefix = name.encode().lower() + b":"
    for line in lines:
        if line.lower().startswith(prefix):
            return line.split(b":", 1)[1].strip().decode()
    raise KeyError(name)


def set_field(rec: bytes, name: str, value: str | bytes | None) -> bytes:
    """Replace (or, with None, remove) the first ``name`` field; append it when absent."""
    lines, block = split(rec)
    prefix = name.encode().lower() + b":"
    raw = value.encode() if isinstance(value, str) else value
    for i, line in enumerate(lines):
        if line.lower().startswith(prefix):
            if raw is None:
                del lines[i]
            else:
                lines[i] = name.encode() + b": " + raw
            return join(lines, block)
    assert raw is not None, f"{name} not in record"
    lines.insert(len(lines) - 1, name.encode() + b": " + raw)
    return join(lines, block)


def add_line(rec: bytes, line: bytes) -> bytes:
    lines, block = split(rec)
    lines.insert(2, line)
    return join(lines, block)


def set_block(rec: bytes, block: bytes) -> bytes:
    """Replace the block, keeping Content-Length and WARC-Block-Digest true to it."""
    lines, _ = split(rec)
    rec = join(lines, block)
    rec = set_field(rec, "Content-Length", str(len(block)))
    return set_field(rec, "WARC-Block-Digest", sha1(block))


def block_of(rec: bytes) -> bytes:
    return split(rec)[1]
