"""A whole generated forum: every post exactly once, feed exports, settings errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tests.helpers import crawl, read_rows
from tests.replica.discuz import DiscuzSite, generated_board
from tests.replica.server import Replica, serving


def test_every_post_once_with_global_sticky_and_feed_export(tmp_path: Path) -> None:
    board = generated_board()
    assert any(t.displayorder == 3 for t in board.threads.values())
    with serving(Replica([DiscuzSite(board)])) as server:
        result = crawl("51credit", tmp_path, {"CREDIT51_BASE_URL": server.base_url},
                       args=["-O", str(tmp_path / "posts.jsonl")])
        thread_fetches = server.replica.requested("/thread-")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = read_rows(tmp_path / "tsv" / "51credit" / f"{datetime.now(UTC):%Y-%m-%d}.tsv")
    pids = [r.split("\t")[8] for r in rows]
    expected = sorted(str(p.pid) for t in board.threads.values() for p in t.posts)
    assert sorted(pids) == expected
    assert len(thread_fetches) == len(set(thread_fetches)) == sum(t.pages for t in board.threads.values())
    items = [json.loads(line) for line in (tmp_path / "posts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(i["pid"] for i in items) == expected
    assert all(i["posted_at"].endswith("+08:00") for i in items)
    # Multi-page threads: field 4 names the page each post is on.
    multi = next(t for t in board.threads.values() if t.pages > 1)
    last = multi.posts[-1]
    row = next(r for r in rows if r.split("\t")[8] == str(last.pid)).split("\t")
    assert row[4] == f"{server.base_url}thread-{multi.tid}-{multi.pages}-1.html"


def test_bad_forum_setting_names_the_value_and_the_fix(tmp_path: Path) -> None:
    result = crawl("51credit", tmp_path, {"CREDIT51_FORUMS": "290,abc", "CREDIT51_BASE_URL": "http://127.0.0.1:9/"})
    assert result.returncode != 0
    assert "CREDIT51_FORUMS holds ['abc']" in result.stderr
    assert "-s CREDIT51_FORUMS=290,291" in result.stderr
