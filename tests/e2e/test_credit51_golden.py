"""The 51credit spider reproduces the golden post and the 2,390 real rows of 2018 from the replica."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.helpers import crawl, read_rows, shared_file
from tests.replica.discuz import POSTS_PER_PAGE, DiscuzSite, board_from_rows
from tests.replica.server import Replica, serving

REAL_BASE = "https://bbs.51credit.com/"


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def test_golden_post_byte_for_byte(tmp_path: Path) -> None:
    golden = shared_file("formats/51credit-post.tsv").read_bytes()
    row = golden.decode("utf-8")
    board = board_from_rows([row])
    with serving(Replica([DiscuzSite(board)])) as server:
        result = crawl("51credit", tmp_path, {
            "CREDIT51_BASE_URL": server.base_url, "TSV_LAYOUT": "per-post", "TSV_DATE": "2018-09-14",
        })
    assert result.returncode == 0, result.stderr[-3000:]
    pid = row.split("\t")[8]
    out = tmp_path / "tsv" / "51credit" / "files" / "2018-09-14" / f"{pid}.txt"
    assert out.exists(), result.stderr[-3000:]
    written = out.read_bytes().replace(server.base_url.encode(), REAL_BASE.encode())
    assert written == golden


def _expected_rows(rows: list[str]) -> dict[str, str]:
    """Reference rows with field 4 naming the page the replica places each post on (pid order, 20 a page)."""
    by_thread: dict[str, list[list[str]]] = {}
    for line in rows:
        values = line.split("\t")
        by_thread.setdefault(values[0], []).append(values)
    expected = {}
    for tid, posts in by_thread.items():
        posts.sort(key=lambda v: int(v[8]))
        for i, values in enumerate(posts):
            values = list(values)
            values[4] = f"{REAL_BASE}thread-{tid}-{i // POSTS_PER_PAGE + 1}-1.html"
            expected[values[8]] = "\t".join(values)
    return expected


def test_reference_rows_reproduced(tmp_path: Path) -> None:
    rows = [r for r in read_rows(shared_file("reference/51credit/posts-2018.tsv")) if r]
    assert len(rows) == 2390
    board = board_from_rows(rows, now=datetime(2018, 9, 14, 12, 0))
    with serving(Replica([DiscuzSite(board)])) as server:
        result = crawl("51credit", tmp_path, {"CREDIT51_BASE_URL": server.base_url})
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "tsv" / "51credit" / f"{_today()}.tsv"
    got = {}
    for line in read_rows(out):
        line = line.replace(server.base_url, REAL_BASE)
        got[line.split("\t")[8]] = line
    expected = _expected_rows(rows)
    mismatches = sorted(pid for pid in expected.keys() | got.keys() if expected.get(pid) != got.get(pid))
    print(f"51credit reference rows: {len(expected)} expected, {len(got)} written, {len(mismatches)} mismatches")
    for pid in mismatches[:5]:
        print("expected:", expected.get(pid, "<missing>")[:300])
        print("got:     ", got.get(pid, "<missing>")[:300])
    assert len(mismatches) == 0
    assert len(got) == 2390
