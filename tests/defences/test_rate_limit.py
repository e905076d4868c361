"""429/503 with Retry-After: the retry waits at least the advertised time, requests to the host hold
meanwhile, the rows are those of an open forum; a wait past RETRY_AFTER_MAX stops the crawl as blocked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.defences.conftest import Crawl, crawl_behind, small_board
from tests.replica.defences import RateLimit
from tests.replica.server import Replica


def _check_waits(replica: Replica, limit: RateLimit, given_up: int = 0) -> None:
    """Each limited request (but the last ``given_up``) came again no sooner than it was told, and the host
    was left alone meanwhile."""
    log = replica.requested_at()
    assert limit.limited
    for answered, target, wait in limit.limited[: len(limit.limited) - given_up]:
        again = [t for t, tgt in log if tgt == target and t > answered]
        assert again, f"{target} was never retried"
        assert again[0] - answered >= wait - 0.01, (target, again[0] - answered, wait)
        # Requests already on the wire when the 429 was answered may land just after it; none later.
        quiet = [(round(t - answered, 3), tgt) for t, tgt in log if answered + 0.3 < t < answered + wait - 0.01]
        assert not quiet, f"requests sent while {target} told the crawler to wait {wait:.2f}s: {quiet}"


def _limited_paths() -> str:
    board = small_board()
    tids = sorted(board.threads)
    return rf"^/forum\.php$|^/thread-({tids[1]}|{tids[7]})-1-1\.html$"


@pytest.mark.parametrize(("status", "http_date", "politeness"), [
    (429, False, {}),
    (503, True, {}),
    # Real-site politeness: one request at a time with a delay, so requests queue in Scrapy's slot.
    (429, False, {"CONCURRENT_REQUESTS_PER_DOMAIN": "1", "DOWNLOAD_DELAY": "0.05"}),
])
def test_retry_after_is_waited_out(tmp_path: Path, undefended: Crawl, status: int, http_date: bool,
                                   politeness: dict[str, str]) -> None:
    limit = RateLimit(paths=_limited_paths(), first=1, seconds=1.2, status=status, http_date=http_date)
    run = crawl_behind(tmp_path, [limit], settings=politeness)
    assert run.stats.get("finish_reason") == "'finished'", run.log[-3000:]
    assert run.rows == undefended.rows
    assert len(limit.limited) == 3
    assert run.stats["defences/rate-limit/met"] == "3"
    assert run.stats["defences/rate-limit/passed"] == "3"
    assert float(run.stats["defences/rate-limit/waited_seconds"]) >= 3 * 1.2 - 0.1
    _check_waits(run.replica, limit)


def test_retry_after_too_long_stops_the_crawl(tmp_path: Path) -> None:
    limit = RateLimit(paths=r"^/forum\.php$", first=10, seconds=3600)
    run = crawl_behind(tmp_path, [limit], settings={"RETRY_AFTER_MAX": "5"})
    assert run.stats.get("finish_reason") == "'blocked'", run.log[-3000:]
    assert run.stats.get("run/blocked_by") == "'rate-limit'"
    assert run.stats["defences/rate-limit/failed"] == "1"
    assert len(limit.limited) == 1
    assert run.rows == []
    assert "more than RETRY_AFTER_MAX=5s; raise it with -s RETRY_AFTER_MAX=SECONDS" in run.log


def test_a_site_that_keeps_limiting_stops_the_crawl(tmp_path: Path) -> None:
    limit = RateLimit(paths=r"^/forum\.php$", first=10, seconds=0.2)
    run = crawl_behind(tmp_path, [limit], settings={"RETRY_AFTER_TIMES": "2"})
    assert run.stats.get("finish_reason") == "'blocked'", run.log[-3000:]
    assert run.stats.get("run/blocked_by") == "'rate-limit'"
    assert len(limit.limited) == 3
    _check_waits(run.replica, limit, given_up=1)
    assert len(run.replica.requested()) == 3  # given up on the third 429: nothing more was sent
