"""The ``archive`` command, called as ``main([...])`` the way its console script calls it."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import brotli
import pytest

from archive.cli import main
from archive.reader import iter_records
from archive.writer import WarcWriter
from tests.archive.conftest import make_exchange
from tests.archive.warcfiles import HTML, HTML_GZ, GoodSet, build_good_set, records, set_field, write_records

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> GoodSet:
    return build_good_set(tmp_path_factory.mktemp("cli"))


@pytest.fixture
def good(template: GoodSet, tmp_path: Path) -> GoodSet:
    directory = tmp_path / "warc"
    shutil.copytree(template.directory, directory)
    return GoodSet(directory, directory / template.first.name, directory / template.second.name)


def test_ls_lists_offset_type_status_url_length(good: GoodSet, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", str(good.first)]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    expected = [
        [
            str(r.offset),
            r.type,
            str(r.http.status) if r.http and r.http.status else "-",
            r.target_uri or "-",
            str(r.length),
        ]
        for r in iter_records(good.first)
    ]
    assert lines == expected
    assert lines[1][1:4] == ["response", "200", "http://bbs.example.com/thread-1-1-1.html"]


def test_ls_reads_stdin(
    good: GoodSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = io.TextIOWrapper(io.BytesIO(good.second.read_bytes()))
    monkeypatch.setattr(sys, "stdin", fake)
    assert main(["ls", "-"]) == 0
    assert [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()] == [
        "warcinfo",
        "revisit",
        "request",
        "response",
        "request",
    ]


def test_show_by_offset_and_by_url(good: GoodSet, tmp_path: Path) -> None:
    offset = [r.offset for r in iter_records(good.first)][3]
    by_offset = tmp_path / "a"
    by_url = tmp_path / "b"
    assert main(["show", str(good.first), "--offset", str(offset), "-o", str(by_offset)]) == 0
    assert (
        main(
            [
                "show",
                str(good.first),
                "--url",
                "http://bbs.example.com/论坛/forum.php?mod=viewthread&tid=2&extra=页",
                "-o",
                str(by_url),
            ]
        )
        == 0
    )
    assert by_offset.read_bytes() == by_url.read_bytes() == records(good.first)[3][:-4]
    assert by_offset.read_bytes().startswith(b"WARC/1.1\r\nWARC-Type: response\r\n")


def test_show_unknown_url_fails_naming_it(good: GoodSet, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(good.first), "--url", "http://nowhere.example/"]) == 1
    assert "http://nowhere.example/" in capsys.readouterr().err


def test_extract_decodes_content(good: GoodSet, tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    assert (
        main(
            ["extract", str(good.first), "--url", "http://bbs.example.com/thread-1-1-1.html", "-o", str(out)]
        )
        == 0
    )
    assert out.read_bytes() == HTML
    assert (
        main(
            [
                "extract",
                str(good.first),
                "--url",
                "http://bbs.example.com/thread-1-1-1.html",
                "--raw",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert out.read_bytes() == HTML_GZ


def test_extract_of_a_revisit_gives_the_originals_payload(good: GoodSet, tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    url = "http://bbs.example.com/thread-1-1-1.html?from=list"
    assert main(["extract", str(good.second), "--url", url, "-o", str(out)]) == 0
    assert out.read_bytes() == HTML


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        (b"br", brotli.compress),
        (b"deflate", zlib.compress),
        (b"deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as many servers send it
        (b"gzip, br", lambda data: brotli.compress(gzip.compress(data))),
    ],
)
def test_extract_undoes_each_content_coding(tmp_path: Path, coding: bytes, encode: object) -> None:
    assert callable(encode)
    body = b"<p>decoded</p>" * 100
    with WarcWriter(tmp_path / "w", prefix="t", hostname="h") as writer:
        written = writer.write_exchange(
            make_exchange(payload=encode(body), response_headers=[(b"Content-Encoding", coding)])
        )
    out = tmp_path / "out"
    warc = tmp_path / "w" / written.filename
    assert main(["extract", str(warc), "--offset", str(written.offset), "-o", str(out)]) == 0
    assert out.read_bytes() == body


def test_check_passes_good_files(good: GoodSet, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(good.directory)]) == 0
    assert capsys.readouterr().out.startswith("OK: 11 records in 2 files")


def test_check_fails_naming_file_offset_and_rule(good: GoodSet, capsys: pytest.CaptureFixture[str]) -> None:
    recs = records(good.second)
    recs[3] = set_field(recs[3], "WARC-Truncated", "size")
    write_records(good.second, recs)
    offset = [r.offset for r in iter_records(good.second)][3]
    assert main(["check", str(good.directory)]) == 1
    out = capsys.readouterr().out
    assert f"{good.second}:{offset}: truncated-field: " in out
    assert "FAILED: 1 violations (truncated-field)" in out


def test_index_writes_cdxj_beside_each_warc(good: GoodSet, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", str(good.directory)]) == 0
    assert sorted(p.name for p in good.directory.glob("*.cdxj")) == sorted(
        p.name.replace(".warc.gz", ".cdxj") for p in (good.first, good.second)
    )
    assert "[2/2]" in capsys.readouterr().err


def test_wacz_with_pages_file(good: GoodSet, tmp_path: Path) -> None:
    pages = tmp_path / "pages.jsonl"
    pages.write_text(
        '{"format": "json-pages-1.0", "id": "pages"}\n'
        '{"url": "http://bbs.example.com/thread-1-1-1.html", "ts": "2024-05-01T08:09:10Z", "title": "T"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "c.wacz"
    assert main(["wacz", str(good.directory), "-o", str(out), "--pages", str(pages), "--title", "Forum"]) == 0
    with zipfile.ZipFile(out) as wacz:
        lines = wacz.read("pages/pages.jsonl").splitlines()
    assert json.loads(lines[1])["title"] == "T"


def test_salvage_reports_what_it_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    writer = WarcWriter(tmp_path / "live", prefix="t", hostname="h")
    writer.write_exchange(make_exchange())
    live = writer.current_file
    assert live is not None
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    data = live.read_bytes()
    writer.close()
    (crashed / live.name).write_bytes(data[:-10])
    assert main(["salvage", str(crashed)]) == 0
    out = capsys.readouterr().out
    assert "kept 2 records" in out and "cut " in out
    assert [r.type for r in iter_records(crashed / live.name.removesuffix(".open"))] == [
        "warcinfo",
        "response",
    ]


def test_replay_without_its_venv_exits_2_naming_make_target(
    good: GoodSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(good.directory), "--venv", str(tmp_path / "none")]) == 2
    assert "make replay-env" in capsys.readouterr().err


def _fake_pywb(venv: Path, log: Path) -> None:
    """Stand-ins for pywb's wb-manager and wayback that log their arguments (pywb is not installed here)."""
    bin_dir = venv / "bin"
    bin_dir.mkdir(parents=True)
    manager = (
        "#!/bin/sh\n"
        f'echo "wb-manager $*" >> {log}\n'
        'if [ "$1" = init ]; then mkdir -p "collections/$2/archive" "collections/$2/indexes"; fi\n'
    )
    (bin_dir / "wb-manager").write_text(manager)
    (bin_dir / "wayback").write_text(f'#!/bin/sh\necho "wayback $*" >> {log}\n')
    for name in ("wb-manager", "wayback"):
        (bin_dir / name).chmod(0o755)


def test_replay_builds_a_collection_and_runs_wayback(good: GoodSet, tmp_path: Path) -> None:
    venv, log, root = tmp_path / ".venv-replay", tmp_path / "calls.log", tmp_path / "replay"
    _fake_pywb(venv, log)
    argv = ["replay", str(good.directory), "--venv", str(venv), "--root", str(root), "--port", "8123"]
    assert main(argv) == 0
    archive_dir = root / "collections" / "crawl" / "archive"
    assert sorted(p.name for p in archive_dir.iterdir()) == sorted([good.first.name, good.second.name])
    assert (archive_dir / good.first.name).read_bytes() == good.first.read_bytes()
    assert log.read_text().splitlines() == [
        "wb-manager init crawl",
        "wb-manager reindex crawl",
        "wayback -p 8123",
    ]
    # A second run adds nothing and only serves.
    assert main([*argv, "--no-serve"]) == 0
    assert log.read_text().splitlines()[3:] == []


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show"]) == 2
    assert main([]) == 2
    capsys.readouterr()


def test_python_dash_m_archive(good: GoodSet) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "archive", "check", str(good.directory)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK:")
