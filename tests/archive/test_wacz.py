"""WACZ 1.1.1: built streaming, accepted by `wacz validate`, and following the spec's rules."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.index import cdxj_path, index_warc
from archive.wacz import Page, build_wacz, pages_from_warcs
from tests.archive.warcfiles import GoodSet, build_good_set

CREATED = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[GoodSet, Path]:
    base = tmp_path_factory.mktemp("wacz")
    good = build_good_set(base)
    return good, build_wacz([good.directory], base / "crawl.wacz", created=CREATED, progress=None)


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    """`wacz validate -f path` (py-wacz's `python -m wacz` drops the exit status, so call its main)."""
    code = "import sys; from wacz.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, "validate", "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_wacz_validate_accepts_it(built: tuple[GoodSet, Path]) -> None:
    result = _validate(built[1])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation succeeded" in result.stdout


def test_wacz_validate_would_catch_a_wrong_hash(built: tuple[GoodSet, Path], tmp_path: Path) -> None:
    """The validator run above is not a rubber stamp."""
    tampered = tmp_path / "tampered.wacz"
    with zipfile.ZipFile(built[1]) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "pages/pages.jsonl":
                data += b'{"url": "http://x/", "ts": "2024-01-01T00:00:00Z"}\n'
            dst.writestr(info, data)
    assert _validate(tampered).returncode == 1


def test_layout_and_compression_follow_1_1_1(built: tuple[GoodSet, Path], tmp_path: Path) -> None:
    good, path = built
    with zipfile.ZipFile(path) as wacz:
        infos = {info.filename: info for info in wacz.infolist()}
        assert set(infos) == {
            f"archive/{good.first.name}",
            f"archive/{good.second.name}",
            "indexes/index.cdx.gz",
            "pages/pages.jsonl",
            "datapackage.json",
            "datapackage-digest.json",
        }
        # Already compressed files are stored, so readers can range-request into them.
        for name in (f"archive/{good.first.name}", f"archive/{good.second.name}", "indexes/index.cdx.gz"):
            assert infos[name].compress_type == zipfile.ZIP_STORED
        assert wacz.read(f"archive/{good.first.name}") == good.first.read_bytes()  # not recompressed

        package = json.loads(wacz.read("datapackage.json"))
        assert package["profile"] == "data-package"
        assert package["wacz_version"] == "1.1.1"
        assert package["created"] == "2024-06-01T12:00:00Z"
        assert package["software"].startswith("archival-crawler/")
        assert [r["path"] for r in package["resources"]] == [
            n for n in infos if n not in ("datapackage.json", "datapackage-digest.json")
        ]
        for resource in package["resources"]:
            data = wacz.read(resource["path"])
            assert resource["bytes"] == len(data)
            assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        digest = json.loads(wacz.read("datapackage-digest.json"))
        assert digest == {
            "path": "datapackage.json",
            "hash": "sha256:" + hashlib.sha256(wacz.read("datapackage.json")).hexdigest(),
        }

        index_lines = gzip.decompress(wacz.read("indexes/index.cdx.gz")).splitlines(keepends=True)
        expected = sorted(
            line
            for warc in (good.first, good.second)
            for line in index_warc(warc, tmp_path / cdxj_path(warc).name)[0].read_bytes().splitlines(True)
        )
        assert index_lines == expected

        pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()]
    assert pages[0] == {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
    assert [(p["url"], p["ts"], p["title"]) for p in pages[1:]] == [
        ("http://bbs.example.com/thread-1-1-1.html", "2024-05-01T08:09:10Z", "帖子 第一页"),
        (
            "http://bbs.example.com/%E8%AE%BA%E5%9D%9B/forum.php?mod=viewthread&tid=2&extra=%E9%A1%B5",
            "2024-05-01T08:09:10Z",
            "第二",
        ),
    ]


def test_pages_from_the_caller(tmp_path: Path) -> None:
    good = build_good_set(tmp_path)
    out = build_wacz(
        [good.first],
        tmp_path / "one.wacz",
        pages=[("http://bbs.example.com/thread-1-1-1.html", "2024-05-01T08:09:10Z", "Thread 1")],
        title="Forum",
        progress=None,
    )
    with zipfile.ZipFile(out) as wacz:
        lines = wacz.read("pages/pages.jsonl").splitlines()
        assert json.loads(wacz.read("datapackage.json"))["title"] == "Forum"
    assert len(lines) == 2 and json.loads(lines[1])["title"] == "Thread 1"
    assert _validate(out).returncode == 0


def test_bad_page_dates_are_refused(tmp_path: Path) -> None:
    good = build_good_set(tmp_path)
    with pytest.raises(ValueError, match="'2024-05-01 08:09'"):
        build_wacz(
            [good.first], tmp_path / "x.wacz", pages=[Page("http://x/", "2024-05-01 08:09")], progress=None
        )
    assert not (tmp_path / "x.wacz").exists()


def test_derived_pages_skip_revisits_and_non_html(tmp_path: Path) -> None:
    good = build_good_set(tmp_path)
    urls = [page.url for page in pages_from_warcs([good.first, good.second])]
    assert urls == [
        "http://bbs.example.com/thread-1-1-1.html",
        "http://bbs.example.com/%E8%AE%BA%E5%9D%9B/forum.php?mod=viewthread&tid=2&extra=%E9%A1%B5",
    ]
