"""Awkward exchanges written, rotated, deduplicated, salvaged, and passed by every validator.

The byte-exact golden record is in ``test_writer.py``; this file proves the other tools agree.
"""

from __future__ import annotations

import gzip
import io
import random
import shutil
import subprocess
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from cdxj_indexer.main import CDXJIndexer
from warcio.cli import main as warcio_main

from archive.cli import main
from archive.digests import SqliteDigestIndex
from archive.reader import iter_records
from archive.records import WrittenExchange
from archive.writer import WarcWriter
from tests.archive.conftest import Clock, make_exchange
from tests.archive.warcfiles import compressed_members, records, set_field, sha1, write_records

PAGE = (
    "<html><head><title>信用卡 论坛</title></head><body>"
    + "".join(f"<p>第{n}楼 {random.Random(n).getrandbits(64):x}</p>" for n in range(60))
    + "</body></html>"
).encode("utf-8")
PAGE_GZ = gzip.compress(PAGE, mtime=0)


def _warcio_check(files: list[Path]) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit) as stop:
        warcio_main(["check", "-v", *map(str, files)])
    return int(stop.value.code or 0), out.getvalue()


def _gzip_t(path: Path) -> int:
    return subprocess.run(["gzip", "-t", str(path)], capture_output=True, check=False).returncode


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, WrittenExchange], list[Path]]:
    base = tmp_path_factory.mktemp("crawl")
    warc_dir = base / "warc"
    index = SqliteDigestIndex(base / "state.sqlite")
    clock = Clock()
    info = {"operator": "tests", "isPartOf": "e2e", "robots": "obey"}
    written: dict[str, WrittenExchange] = {}
    first = WarcWriter(
        warc_dir, prefix="bbs", hostname="h1", max_bytes=6000, warcinfo=info, digest_index=index, clock=clock
    )
    written["chunked-gzip"] = first.write_exchange(
        make_exchange(
            "http://bbs.example.com/thread-7-1-1.html",
            PAGE_GZ,
            response_headers=[
                (b"Server", b"nginx"),
                (b"Content-Type", b"text/html; charset=utf-8"),
                (b"Transfer-Encoding", b"chunked"),
                (b"Content-Encoding", b"gzip"),
            ],
        )
    )
    gbk_body = "<html><title>论坛首页</title></html>".encode("gbk")
    written["gbk-chinese-path-query"] = first.write_exchange(
        make_exchange(
            "http://bbs.example.com/论坛/forum.php?mod=forumdisplay&fid=3&kw=信用",
            gbk_body,
            response_headers=[
                (b"Content-Type", b"text/html; charset=gbk"),
                (b"Content-Length", str(len(gbk_body)).encode()),
                (b"X-Board", "信用卡论坛".encode("gbk")),
            ],
        )
    )
    for n in range(4):  # incompressible attachments push the writer past max_bytes
        written[f"blob-{n}"] = first.write_exchange(
            make_exchange(f"http://bbs.example.com/attachment.php?aid={n}", random.Random(n).randbytes(3000))
        )
    written["truncated"] = first.write_exchange(
        make_exchange(
            "http://bbs.example.com/big.rar",
            random.Random(9).randbytes(1500),
            response_headers=[(b"Content-Length", b"104857600")],
            truncated="length",
        )
    )
    first.close()
    second = WarcWriter(warc_dir, prefix="bbs", hostname="h1", warcinfo=info, digest_index=index, clock=clock)
    written["revisit"] = second.write_exchange(
        make_exchange(
            "http://bbs.example.com/thread-7-1-1.html?page=1",
            PAGE_GZ,
            response_headers=[(b"Content-Encoding", b"gzip")],
        )
    )
    second.close()
    index.close()
    return warc_dir, written, first.closed_files + second.closed_files


def test_rotation_and_dedup_happened(crawl: tuple[Path, dict[str, WrittenExchange], list[Path]]) -> None:
    warc_dir, written, files = crawl
    assert len(files) >= 4
    assert sorted(files) == sorted(warc_dir.glob("*.warc.gz"))
    assert not list(warc_dir.glob("*.open"))
    first_run = [f for f in files if f.name != written["revisit"].filename]
    assert [f.name.split("-")[2] for f in first_run] == [f"{n:05d}" for n in range(len(first_run))]
    for path in files:
        assert next(iter_records(path)).type == "warcinfo"
    assert written["revisit"].revisit
    assert not any(w.revisit for key, w in written.items() if key != "revisit")


def test_records_keep_the_wire_faithfully(crawl: tuple[Path, dict[str, WrittenExchange], list[Path]]) -> None:
    warc_dir, written, _ = crawl
    by_id = {r.record_id: r for path in warc_dir.glob("*.warc.gz") for r in iter_records(path)}
    chunked = by_id[written["chunked-gzip"].response_id]
    assert chunked.http is not None
    assert chunked.http.get(b"X-Orig-Transfer-Encoding") == b"chunked"
    assert chunked.http.get(b"Transfer-Encoding") is None
    assert chunked.http.get(b"Content-Length") == str(len(PAGE_GZ)).encode()
    assert chunked.get("WARC-Payload-Digest") == sha1(PAGE_GZ)  # content coding kept in the digest
    gbk = by_id[written["gbk-chinese-path-query"].response_id]
    assert gbk.target_uri == (
        "http://bbs.example.com/%E8%AE%BA%E5%9D%9B/forum.php?mod=forumdisplay&fid=3&kw=%E4%BF%A1%E7%94%A8"
    )
    assert gbk.http is not None and gbk.http.get(b"X-Board") == "信用卡论坛".encode("gbk")
    request = by_id[written["gbk-chinese-path-query"].request_id]
    assert request.http is not None
    assert request.http.start_line == (
        b"GET /%E8%AE%BA%E5%9D%9B/forum.php?mod=forumdisplay&fid=3&kw=%E4%BF%A1%E7%94%A8 HTTP/1.1"
    )
    truncated = by_id[written["truncated"].response_id]
    assert truncated.get("WARC-Truncated") == "length"


def test_archive_check_passes(
    crawl: tuple[Path, dict[str, WrittenExchange], list[Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(crawl[0])]) == 0
    assert capsys.readouterr().out.startswith("OK:")


def test_warcio_check_passes_and_can_fail(
    crawl: tuple[Path, dict[str, WrittenExchange], list[Path]], tmp_path: Path
) -> None:
    files = crawl[2]
    status, out = _warcio_check(files)
    assert status == 0, out
    assert out.count("digest pass") >= 2 * 7
    broken = tmp_path / files[0].name
    recs = records(files[0])
    recs[1] = set_field(recs[1], "WARC-Payload-Digest", sha1(b"not it"))
    write_records(broken, recs)
    assert _warcio_check([broken])[0] == 1


def test_gzip_t_passes_and_can_fail(
    crawl: tuple[Path, dict[str, WrittenExchange], list[Path]], tmp_path: Path
) -> None:
    for path in crawl[2]:
        assert _gzip_t(path) == 0, path
    cut = tmp_path / "cut.warc.gz"
    data = crawl[2][0].read_bytes()
    cut.write_bytes(data[:-7])
    assert _gzip_t(cut) != 0


def test_cdxj_indexer_indexes_every_capture(
    crawl: tuple[Path, dict[str, WrittenExchange], list[Path]],
) -> None:
    _, written, files = crawl
    out = io.StringIO()
    CDXJIndexer(output=out, inputs=[str(f) for f in files], sort=True).process_all()
    lines = out.getvalue().splitlines()
    assert len(lines) == len(written)  # one line per response or revisit
    assert sum('"mime": "warc/revisit"' in line for line in lines) == 1
    assert any(line.startswith("com,example,bbs)/%e8%ae%ba%e5%9d%9b/forum.php?") for line in lines)


def test_salvaged_crash_keeps_complete_records_and_passes_check(
    crawl: tuple[Path, dict[str, WrittenExchange], list[Path]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = crawl[2][0]
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    members = compressed_members(source)
    # kill -9 while the last request record was half written.
    open_file = crashed / (source.name + ".open")
    open_file.write_bytes(b"".join(members[:-1]) + members[-1][: len(members[-1]) // 2])
    assert main(["check", str(crashed)]) == 1
    assert "truncated-tail" in capsys.readouterr().out

    assert main(["salvage", str(crashed)]) == 0
    salvaged = crashed / source.name
    assert salvaged.read_bytes() == b"".join(members[:-1])
    assert [r.record_id for r in iter_records(salvaged)] == [r.record_id for r in iter_records(source)][:-1]
    assert _gzip_t(salvaged) == 0
    # The response whose request was cut off is the file's last record: kept, and still passes.
    capsys.readouterr()
    assert main(["check", str(salvaged)]) == 0, capsys.readouterr().out
    shutil.rmtree(crashed)
