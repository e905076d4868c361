"""robots.txt is obeyed by default: no disallowed path is ever requested, even with robots.txt itself
behind the JS challenge."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from tests.defences.conftest import Crawl, crawl_behind, small_board
from tests.replica.defences import JsChallenge, robots_disallowing
from tests.replica.server import Site


def test_robots_obeyed_by_default() -> None:
    settings = importlib.import_module("crawler.settings")
    assert settings.ROBOTSTXT_OBEY is True


@pytest.mark.parametrize("challenged", [False, True])
def test_no_disallowed_path_is_requested(tmp_path: Path, undefended: Crawl, challenged: bool) -> None:
    board = small_board()
    open_fid, closed_fid = (f.fid for f in board.forums)
    listed = sorted(t.tid for t in board.threads.values() if t.fid == open_fid or t.displayorder == 3)
    banned_tid = listed[1]
    disallowed = (f"/forum-{closed_fid}-", f"/thread-{banned_tid}-")
    challenge = JsChallenge(seed=4)
    defences: list[Site] = [challenge] if challenged else []
    run = crawl_behind(tmp_path, defences, robots=robots_disallowing(*disallowed),
                       settings={"ROBOTSTXT_OBEY": "True"})
    assert run.stats.get("finish_reason") == "'finished'", run.log[-3000:]
    requested = run.replica.requested()
    assert "/robots.txt" in requested
    assert not [t for t in requested if t.startswith(disallowed)]
    assert int(run.stats["robotstxt/forbidden"]) >= 2  # the closed forum's listing and the banned thread
    # Everything robots.txt allows is still there, byte for byte.
    allowed = set(listed) - {banned_tid}
    assert run.rows == [r for r in undefended.rows if int(r.split("\t")[0]) in allowed]
    assert run.rows
    if challenged:
        assert "/robots.txt" in challenge.challenged  # robots.txt itself was behind the challenge
        assert int(run.stats["defences/js-challenge/passed"]) >= 1
