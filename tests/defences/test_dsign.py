"""Discuz's _dsign anti-leech: its script is run and followed, the rows are those of an open forum;
a _dsign that never validates stops the crawl as blocked."""

from __future__ import annotations

from pathlib import Path

from tests.defences.conftest import Crawl, crawl_behind
from tests.replica.defences import Dsign, JsChallenge


def test_dsign_followed_gives_the_same_rows(tmp_path: Path, undefended: Crawl) -> None:
    dsign = Dsign(views=3, seed=5)
    run = crawl_behind(tmp_path, [dsign])
    assert run.result.returncode == 0, run.log[-3000:]
    assert run.stats.get("finish_reason") == "'finished'"
    assert run.rows == undefended.rows
    threads = 12
    assert len(dsign.challenged) == threads - 3
    assert len(dsign.passed) == threads - 3
    assert all("?_dsign=" in target for target in dsign.passed)
    assert run.stats["defences/dsign/met"] == str(threads - 3)
    assert run.stats["defences/dsign/passed"] == str(threads - 3)
    # The rows name the thread page, not the URL the anti-leech script sent the crawler to.
    assert not any("_dsign" in row for row in run.rows)


def test_dsign_behind_a_js_challenge(tmp_path: Path, undefended: Crawl) -> None:
    challenge, dsign = JsChallenge(seed=3), Dsign(views=0, seed=6)
    run = crawl_behind(tmp_path, [challenge, dsign])
    assert run.stats.get("finish_reason") == "'finished'", run.log[-3000:]
    assert run.rows == undefended.rows
    assert run.stats["defences/dsign/passed"] == "12"
    assert int(run.stats["defences/js-challenge/passed"]) >= 1


def test_dsign_that_never_validates_stops_the_crawl(tmp_path: Path) -> None:
    dsign = Dsign(views=0, seed=5, mode="unsolvable")
    run = crawl_behind(tmp_path, [dsign], settings={"DEFENCES_CHALLENGE_TRIES": "2", "CREDIT51_FORUMS": "290"})
    assert run.stats.get("finish_reason") == "'blocked'", run.log[-3000:]
    assert run.stats.get("run/blocked_by") == "'dsign'"
    assert int(run.stats["defences/dsign/failed"]) >= 1  # threads in flight may give up together
    assert not dsign.passed
    # Only listing rows' first pages were asked for, and nothing came from the script pages.
    assert run.rows == []
