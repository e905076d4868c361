"""Cron runs of the forum spider: only what changed is fetched, each post is written exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from crawler.extensions.runs import ExitCode, RunLock
from tests.helpers import FAST, ROOT, crawl, read_rows
from tests.replica.discuz import POSTS_PER_PAGE, DiscuzSite, generated_board
from tests.replica.server import Replica, serving


def tsv_today(data_dir: Path) -> Path:
    return data_dir / "tsv" / "51credit" / f"{datetime.now(UTC):%Y-%m-%d}.tsv"


def thread_pages(log: list[tuple[str, str]], since: int) -> list[str]:
    return sorted(target for _, target in log[since:] if target.startswith("/thread-"))


def test_second_run_fetches_only_listings_then_exactly_the_changed_pages(tmp_path: Path) -> None:
    board = generated_board(forums=2, threads_per_forum=10, max_posts=50)
    all_pids = sorted(str(p.pid) for t in board.threads.values() for p in t.posts)
    with serving(Replica([DiscuzSite(board)])) as server:
        log = server.replica.log
        settings = {"CREDIT51_BASE_URL": server.base_url}
        first = crawl("51credit", tmp_path, settings)
        assert first.returncode == 0, first.stderr[-2000:]
        assert sorted(r.split("\t")[8] for r in read_rows(tsv_today(tmp_path))) == all_pids

        mark = len(log)
        second = crawl("51credit", tmp_path, settings)
        assert second.returncode == 0, second.stderr[-2000:]
        fetched = [target for _, target in log[mark:]]
        listings = {"/forum.php"} | {f"/forum-{f.fid}-1.html" for f in board.forums}
        assert sorted(fetched) == sorted(listings)
        assert len(read_rows(tsv_today(tmp_path))) == len(all_pids)

        # New replies: one thread whose last page has room, one whose last page is full, one new page.
        threads = sorted(board.threads.values(), key=lambda t: t.tid)
        roomy = next(t for t in threads if len(t.posts) % POSTS_PER_PAGE not in (0,) and len(t.posts) > 25)
        full = next((t for t in threads if len(t.posts) == POSTS_PER_PAGE), None)
        if full is None:
            full = threads[-1]
            while len(full.posts) % POSTS_PER_PAGE:
                full.posts.pop()
            # a thread trimmed to full pages before anyone saw it is not what we need: rebuild its story
        changed = {roomy.tid: len(roomy.posts), full.tid: len(full.posts)}
        new_posts = [board.add_reply(roomy.tid, "新人", 9001, "新回复一"),
                     board.add_reply(full.tid, "新人", 9001, "新回复二")]
        mark = len(log)
        third = crawl("51credit", tmp_path, settings)
        assert third.returncode == 0, third.stderr[-2000:]
        expected_pages = []
        for tid, seen in changed.items():
            thread = board.threads[tid]
            expected_pages += [f"/thread-{tid}-{n}-1.html" for n in range(seen // POSTS_PER_PAGE + 1, thread.pages + 1)]
        assert thread_pages(log, mark) == sorted(expected_pages)
        rows = read_rows(tsv_today(tmp_path))
        assert len(rows) == len(all_pids) + 2
        assert {r.split("\t")[8] for r in rows[-2:]} == {str(p.pid) for p in new_posts}
    summary = json.loads(sorted((tmp_path / "runs").glob("51credit-*.json"))[-1].read_text())
    assert summary["new_items"] == 2 and summary["exit_code"] == 0


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_overlapping_run_exits_with_lock_code_and_changes_nothing(tmp_path: Path) -> None:
    board = generated_board(forums=1, threads_per_forum=3, max_posts=5)
    with serving(Replica([DiscuzSite(board)])) as server:
        first = crawl("51credit", tmp_path, {"CREDIT51_BASE_URL": server.base_url})
        assert first.returncode == 0
        lock = RunLock(tmp_path / "locks" / "51credit.lock")
        lock.acquire()  # a run still going
        try:
            before = _tree(tmp_path)
            second = crawl("51credit", tmp_path, {"CREDIT51_BASE_URL": server.base_url})
            after = _tree(tmp_path)
        finally:
            lock.release()
    assert second.returncode == ExitCode.LOCKED, second.stderr[-2000:]
    assert "another run of this spider is still going" in second.stderr
    assert after == before


def test_full_disk_ends_with_output_failure_and_next_run_completes(tmp_path: Path) -> None:
    board = generated_board(forums=1, threads_per_forum=12, max_posts=40)
    all_pids = sorted(str(p.pid) for t in board.threads.values() for p in t.posts)
    with serving(Replica([DiscuzSite(board)])) as server:
        settings = {**FAST, "CREDIT51_BASE_URL": server.base_url, "DATA_DIR": str(tmp_path)}
        cmd = [sys.executable, "-m", "scrapy", "crawl", "51credit"]
        for name, value in settings.items():
            cmd += ["-s", f"{name}={value}"]

        def small_files() -> None:
            import resource

            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))

        limited = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                 capture_output=True, text=True, timeout=300, preexec_fn=small_files)
        assert limited.returncode == ExitCode.OUTPUT_FAILED, limited.stderr[-3000:]
        partial = read_rows(tsv_today(tmp_path))
        assert len(partial) < len(all_pids)
        assert all(len(r.split("\t")) == 15 for r in partial)  # whole rows only
        again = crawl("51credit", tmp_path, {"CREDIT51_BASE_URL": server.base_url})
    assert again.returncode == 0, again.stderr[-3000:]
    pids = [r.split("\t")[8] for r in read_rows(tsv_today(tmp_path))]
    assert sorted(pids) == all_pids


def test_graceful_stop_with_jobdir_resumes_and_writes_each_post_once(tmp_path: Path) -> None:
    board = generated_board(forums=2, threads_per_forum=12, max_posts=60, seed=3)
    all_pids = sorted(str(p.pid) for t in board.threads.values() for p in t.posts)
    from tests.e2e.test_chaos import Slow

    with serving(Replica([Slow(0.15), DiscuzSite(board)])) as server:
        settings = {**FAST, "CREDIT51_BASE_URL": server.base_url, "DATA_DIR": str(tmp_path),
                    "JOBDIR": str(tmp_path / "job"), "CONCURRENT_REQUESTS_PER_DOMAIN": "2"}
        cmd = [sys.executable, "-m", "scrapy", "crawl", "51credit"]
        for name, value in settings.items():
            cmd += ["-s", f"{name}={value}"]
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        import time

        time.sleep(2.5)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == ExitCode.INTERRUPTED, stderr[-2000:]
        assert (tmp_path / "job" / "requests.queue").exists()
        stopped_at = len(read_rows(tsv_today(tmp_path)))
        assert 0 < stopped_at < len(all_pids)
        resumed = crawl("51credit", tmp_path, {"CREDIT51_BASE_URL": server.base_url, "JOBDIR": str(tmp_path / "job")})
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert sorted(r.split("\t")[8] for r in read_rows(tsv_today(tmp_path))) == all_pids
