"""WAF block pages and login walls answer 200 but are not content: never parsed, counted, and when they
are all the site gives, the crawl stops as blocked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.defences.conftest import Crawl, crawl_behind, small_board
from tests.replica.defences import LoginWall, WafBlock


def _without_threads(rows: list[str], tids: set[int]) -> list[str]:
    return [r for r in rows if int(r.split("\t")[0]) not in tids]


@pytest.mark.parametrize("status", [200, 405])
def test_a_blocked_thread_is_skipped_and_counted(tmp_path: Path, undefended: Crawl, status: int) -> None:
    board = small_board()
    tid = sorted(board.threads)[2]
    waf = WafBlock(paths=rf"^/thread-{tid}-", status=status)
    run = crawl_behind(tmp_path, [waf])
    assert run.stats.get("finish_reason") == "'finished'", run.log[-3000:]
    assert waf.blocked == [f"/thread-{tid}-1-1.html"]
    assert run.rows == _without_threads(undefended.rows, {tid})
    assert run.stats["defences/waf-block/met"] == "1"
    assert run.stats["defences/waf-block/failed"] == "1"
    assert "run/blocked_by" not in run.stats
    # Nothing was parsed out of the block page: no drop reason was counted for it either.
    assert not any(key.startswith("51credit/dropped/") for key in run.stats)


def test_blocked_everywhere_stops_the_crawl(tmp_path: Path) -> None:
    waf = WafBlock(paths=r"^/thread-")
    run = crawl_behind(tmp_path, [waf], settings={"DEFENCES_BLOCK_LIMIT": "3"})
    assert run.stats.get("finish_reason") == "'blocked'", run.log[-3000:]
    assert run.stats.get("run/blocked_by") == "'waf-block'"
    assert run.rows == []
    assert int(run.stats["defences/waf-block/met"]) >= 3
    assert not any(key.startswith("51credit/dropped/") for key in run.stats)
    assert "Blocked by waf-block: 3 waf-block pages in a row" in run.log


def test_login_walled_threads_are_skipped(tmp_path: Path, undefended: Crawl) -> None:
    board = small_board()
    walled = set(sorted(board.threads)[::5])
    wall = LoginWall(tids=walled)
    run = crawl_behind(tmp_path, [wall])
    assert run.stats.get("finish_reason") == "'finished'", run.log[-3000:]
    assert run.rows == _without_threads(undefended.rows, walled)
    assert len(run.rows) < len(undefended.rows)
    assert sorted(wall.walled) == sorted(f"/thread-{t}-1-1.html" for t in walled)
    assert run.stats["defences/login-wall/met"] == str(len(walled))
    assert run.stats["defences/login-wall/failed"] == str(len(walled))
    assert "run/blocked_by" not in run.stats


def test_a_forum_that_wants_a_login_everywhere_stops_the_crawl(tmp_path: Path) -> None:
    wall = LoginWall(tids=set(small_board().threads))
    run = crawl_behind(tmp_path, [wall], settings={"DEFENCES_BLOCK_LIMIT": "4"})
    assert run.stats.get("finish_reason") == "'blocked'", run.log[-3000:]
    assert run.stats.get("run/blocked_by") == "'login-wall'"
    assert run.rows == []
