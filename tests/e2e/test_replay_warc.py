"""Re-extraction: the same spider rebuilds every record from its own WARC files, with the site gone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.helpers import crawl, dumped_stats, read_rows
from tests.replica.discuz import DiscuzSite, generated_board
from tests.replica.server import Replica, serving


def test_rows_rebuilt_from_the_archive_equal_the_live_ones(tmp_path: Path) -> None:
    board = generated_board(forums=2, threads_per_forum=8, max_posts=45)
    live, again = tmp_path / "live", tmp_path / "again"
    with serving(Replica([DiscuzSite(board)])) as server:
        base = server.base_url
        first = crawl("51credit", live, {"CREDIT51_BASE_URL": base, "ROBOTSTXT_OBEY": "True"})
    assert first.returncode == 0, first.stderr[-2000:]
    # The replica is stopped: anything not answered from the archive would fail.
    replay = crawl("51credit", again, {"CREDIT51_BASE_URL": base, "ROBOTSTXT_OBEY": "True",
                                       "REPLAY_WARC": str(live / "warc")})
    assert replay.returncode == 0, replay.stderr[-2000:]
    stats = dumped_stats(replay.stderr)
    assert "replay/not_archived" not in stats
    assert "downloader/exception_count" not in stats
    assert not (again / "warc").exists()
    day = f"{datetime.now(UTC):%Y-%m-%d}.tsv"
    live_rows = read_rows(live / "tsv" / "51credit" / day)
    assert len(live_rows) == sum(len(t.posts) for t in board.threads.values())
    assert sorted(read_rows(again / "tsv" / "51credit" / day)) == sorted(live_rows)


def test_a_missing_archive_names_the_setting(tmp_path: Path) -> None:
    result = crawl("51credit", tmp_path, {"CREDIT51_BASE_URL": "http://127.0.0.1:9/",
                                          "REPLAY_WARC": str(tmp_path / "nowhere")})
    assert result.returncode == 1
    assert "REPLAY_WARC=" in result.stderr and "does not exist" in result.stderr
