"""The 521 JS cookie challenge: solved by running its script, with or without Scrapy's cookie jar;
an unsolvable one stops the crawl as blocked with nothing emitted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.defences.conftest import Crawl, crawl_behind
from tests.replica.defences import JsChallenge


@pytest.mark.parametrize("cookies_enabled", ["True", "False"])
def test_challenge_solved_gives_the_same_rows(tmp_path: Path, undefended: Crawl, cookies_enabled: str) -> None:
    challenge = JsChallenge(seed=11)
    run = crawl_behind(tmp_path, [challenge], settings={"COOKIES_ENABLED": cookies_enabled})
    assert run.result.returncode == 0, run.log[-3000:]
    assert run.stats.get("finish_reason") == "'finished'", run.log[-3000:]
    assert run.rows == undefended.rows
    # Every page was challenged at least once before the first clearance, then served.
    assert challenge.challenged and challenge.passed
    met = int(run.stats["defences/js-challenge/met"])
    assert met == len(challenge.challenged)
    assert int(run.stats["defences/js-challenge/passed"]) >= 1
    assert "defences/js-challenge/failed" not in run.stats
    # With a jar (or our own header) the clearance is sent on every later request: few challenges.
    assert len(challenge.passed) > met
    assert "run/blocked_by" not in run.stats


@pytest.mark.parametrize("mode", ["wrong-cookie", "throws"])
def test_unsolvable_challenge_stops_the_crawl_as_blocked(tmp_path: Path, mode: str) -> None:
    challenge = JsChallenge(seed=12, mode=mode)
    run = crawl_behind(tmp_path, [challenge], settings={"DEFENCES_CHALLENGE_TRIES": "2"})
    assert run.stats.get("finish_reason") == "'blocked'", run.log[-3000:]
    assert run.stats.get("run/blocked_by") == "'js-challenge'"
    assert run.rows == []
    assert not challenge.passed
    # The first request and two solved tries of it; then nothing more was sent.
    assert len(challenge.challenged) == 3, challenge.challenged
    assert run.stats["defences/js-challenge/met"] == "3"
    assert run.stats["defences/js-challenge/failed"] == "1"
    assert "Blocked by js-challenge" in run.log
    if mode == "throws":
        assert "ReferenceError: _0x9f is not defined" in run.log
