"""Many workers, one crawl, on a real redis-server: every post written once, even with a worker killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import redis

from crawler.commands.merge_tsv import Layout, main
from crawler.extensions.runs import ExitCode
from crawler.items import ForumPost
from crawler.state.redis import RedisState
from tests.distributed.conftest import RedisServer, free_port
from tests.distributed.workers import Slow, pid_counts, start_worker, worker_command
from tests.helpers import ROOT, crawl, read_rows
from tests.replica.discuz import DiscuzSite, generated_board
from tests.replica.server import Replica, serving

#: One connection at a time per worker, as politeness asks of a real site: a worker is latency-bound.
PER_WORKER = {"CONCURRENT_REQUESTS": "2", "CONCURRENT_REQUESTS_PER_DOMAIN": "2"}


def summaries(data_dir: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted((data_dir / "runs").glob("51credit-*.json"))]


def test_three_workers_one_killed_then_restarted_every_post_exactly_once(
        tmp_path: Path, redis_server: RedisServer) -> None:
    board = generated_board(forums=3, threads_per_forum=30, max_posts=90, seed=11)
    expected = sorted(str(p.pid) for t in board.threads.values() for p in t.posts)
    dirs = [tmp_path / f"w{i}" for i in range(3)]
    with serving(Replica([Slow(0.04), DiscuzSite(board)])) as server:
        settings = {"CREDIT51_BASE_URL": server.base_url, "REDIS_URL": redis_server.url,
                    "REDIS_LEASE_SECONDS": "2", "LOG_LEVEL": "INFO", **PER_WORKER}
        workers = [start_worker(d, {**settings, "WORKER_ID": d.name}) for d in dirs]
        try:
            deadline = time.monotonic() + 60
            while sum(pid_counts([dirs[1]]).values()) < 200 or sum(pid_counts(dirs).values()) < len(expected) // 3:
                assert time.monotonic() < deadline, "the workers wrote too little in 60 s"
                assert workers[1].poll() is None, (dirs[1] / "worker.log").read_text()[-3000:]
                time.sleep(0.02)
            workers[1].send_signal(signal.SIGKILL)
            written_at_kill = sum(pid_counts(dirs).values())
            for worker in workers:
                worker.wait(timeout=120)
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
        assert written_at_kill < len(expected), "the kill came after the crawl had finished"
        assert [workers[0].returncode, workers[2].returncode] == [0, 0], (dirs[0] / "worker.log").read_text()[-3000:]
        assert workers[1].returncode == -signal.SIGKILL
        # The two survivors finished the crawl, the killed worker's requests included.
        survivors = [s for d in (dirs[0], dirs[2]) for s in summaries(d)]
        assert sum(int(s.get("requeued_from_dead_workers", 0)) for s in survivors) >= 1  # type: ignore[call-overload]
        counts = pid_counts(dirs)
        assert sorted(counts) == expected
        state = RedisState(redis.Redis.from_url(redis_server.url), "crawler", redis_server.url)
        taken_over = {key.split("\t")[1] for key in state.takeovers()}
        duplicates = {pid for pid, n in counts.items() if n > 1}
        # A record is in two parts only if the killed worker wrote it in the instant between its write and its
        # mark, and a survivor then took its claim over: merge-tsv keeps it once.
        assert duplicates <= taken_over, f"written twice without a takeover: {sorted(duplicates - taken_over)}"
        assert all(n == 2 for n in counts.values() if n > 1)

        # The killed worker, started again as it was: it marks what it wrote, finds the crawl over, starts the
        # next one (listings only: every thread was saved by the workers that finished it) and writes nothing.
        log_mark = len(server.replica.log)
        again = crawl("51credit", dirs[1], {**settings, "WORKER_ID": "w1"})
        assert again.returncode == 0, again.stderr[-3000:]
        fetched = [target for _, target in server.replica.log[log_mark:]]
        assert not [t for t in fetched if t.startswith("/thread-")], fetched
        last = summaries(dirs[1])[-1]
        assert (last["worker"], last["new_items"], last["exit_code"]) == ("w1", 0, 0)
    assert pid_counts(dirs) == counts
    assert redis_server.client.hlen("crawler:threads") == len(board.threads)
    # Every worker wrote its own WARC files, the killed one's salvaged at its restart: all pass the check.
    from archive.check import check

    warcs = sorted(p for d in dirs for p in (d / "warc").glob("*.warc.gz"))
    assert {p.name.split("-")[1] for p in warcs} == {"w0", "w1", "w2"}
    assert not [p for d in dirs for p in (d / "warc").glob("*.open")]
    report = check(warcs)
    assert report.ok, [str(v) for v in report.violations][:5]

    day = f"{datetime.now(UTC):%Y-%m-%d}"
    layout = Layout(columns=len(ForumPost.tsv_columns), key_at=ForumPost.tsv_columns.index("pid"))
    out = tmp_path / "merged" / f"{day}.tsv"
    argv = ["--date", day, "--out", str(out)]
    for d in dirs:
        argv += ["--dir", str(d / "tsv" / "51credit")]
    assert main(argv, layout, tmp_path, "51credit") == 0
    merged = [r.split("\t")[8] for r in read_rows(out)]
    assert len(merged) == len(set(merged)) and sorted(merged) == expected


def test_a_second_crawl_by_two_workers_fetches_only_the_listings(tmp_path: Path, redis_server: RedisServer) -> None:
    board = generated_board(forums=2, threads_per_forum=12, max_posts=50, seed=5)
    expected = sorted(str(p.pid) for t in board.threads.values() for p in t.posts)
    dirs = [tmp_path / "a", tmp_path / "b"]
    with serving(Replica([Slow(0.01), DiscuzSite(board)])) as server:
        settings = {"CREDIT51_BASE_URL": server.base_url, "REDIS_URL": redis_server.url, **PER_WORKER}
        for round_ in (1, 2):
            mark = len(server.replica.log)
            # One crawl id per round, as cron lines give it: a worker late for a crawl already over does not
            # start another (the second round is a few listings, over in well under a second).
            workers = [start_worker(d, {**settings, "WORKER_ID": d.name, "REDIS_CRAWL_ID": f"round-{round_}"})
                       for d in dirs]
            assert [w.wait(timeout=120) for w in workers] == [0, 0], (dirs[0] / "worker.log").read_text()[-3000:]
            fetched = [target for _, target in server.replica.log[mark:] if target != "/robots.txt"]
            if round_ == 1:
                thread_pages = [t for t in fetched if t.startswith("/thread-")]
                assert len(thread_pages) == len(set(thread_pages)) == sum(t.pages for t in board.threads.values())
                first = [s for d in dirs for s in summaries(d)]
                assert all(int(s["new_items"]) > 0 for s in first), "one worker did all the work"  # type: ignore[call-overload]
        listings = {"/forum.php"} | {f"/forum-{f.fid}-1.html" for f in board.forums}
        assert sorted(fetched) == sorted(listings)  # each once, by one worker or the other
    counts = pid_counts(dirs)
    assert sorted(counts) == expected and set(counts.values()) == {1}
    assert all(p.name.endswith((".a.tsv", ".b.tsv")) for d in dirs for p in (d / "tsv" / "51credit").iterdir())


def test_a_second_process_with_a_running_workers_id_exits_with_the_lock_code(
        tmp_path: Path, redis_server: RedisServer) -> None:
    board = generated_board(forums=1, threads_per_forum=30, max_posts=40, seed=2)
    with serving(Replica([Slow(0.2), DiscuzSite(board)])) as server:
        settings = {"CREDIT51_BASE_URL": server.base_url, "REDIS_URL": redis_server.url, "WORKER_ID": "box1",
                    **PER_WORKER}
        first = start_worker(tmp_path / "one", settings)
        try:
            deadline = time.monotonic() + 30
            while not redis_server.client.exists("crawler:51credit:lease:box1"):
                assert time.monotonic() < deadline and first.poll() is None
                time.sleep(0.05)
            second = crawl("51credit", tmp_path / "two", settings)
        finally:
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=60)
    assert second.returncode == ExitCode.LOCKED, second.stderr[-2000:]
    assert "worker box1 is already running" in second.stderr
    assert "give this process another WORKER_ID" in second.stderr
    assert not (tmp_path / "two" / "tsv").exists()
    assert first.returncode == ExitCode.INTERRUPTED
    # SIGTERM: the worker finished what it held and left the rest queued for the next worker.
    assert redis_server.client.zcard("crawler:51credit:requests") > 0
    assert redis_server.client.exists("crawler:51credit:held:box1") == 0
    assert redis_server.client.exists("crawler:51credit:lease:box1") == 0


def test_an_unreachable_redis_is_an_output_failure_naming_it(tmp_path: Path) -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    result = crawl("51credit", tmp_path, {"CREDIT51_BASE_URL": "http://127.0.0.1:9/", "REDIS_URL": url})
    assert result.returncode == ExitCode.OUTPUT_FAILED, result.stderr[-2000:]
    assert "not started: [Errno 5] cannot use the crawl state in Redis at redis://:***@127.0.0.1:" in result.stderr
    assert "check that redis-server runs there and REDIS_URL points at it" in result.stderr
    assert "hunter2" not in result.stderr


#: Runs a command line, then prints which modules the process had loaded when it exited.
MODULES_AT_EXIT = """
import atexit, sys
atexit.register(lambda: print("MODULES " + " ".join(sorted(sys.modules)), file=sys.stderr))
from scrapy.cmdline import execute
execute(sys.argv[1:])
"""


def test_without_redis_url_redis_is_never_imported_and_outputs_keep_their_names(tmp_path: Path) -> None:
    board = generated_board(forums=1, threads_per_forum=3, max_posts=5)
    with serving(Replica([DiscuzSite(board)])) as server:
        cmd = worker_command(tmp_path, {"CREDIT51_BASE_URL": server.base_url})
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("CRAWLER_REDIS_URL", None)
        done = subprocess.run([sys.executable, "-c", MODULES_AT_EXIT, "scrapy", *cmd[3:]], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    modules = set(done.stderr.rpartition("MODULES ")[2].split())
    assert "crawler.distributed" in modules and "crawler.spiders.credit51" in modules  # the add-on ran
    assert not {m for m in modules if m.split(".")[0] in ("redis", "scrapy_redis")}
    assert not {m for m in modules if m.startswith(("crawler.distributed.", "crawler.state.redis"))}
    assert [p.name for p in (tmp_path / "tsv" / "51credit").iterdir()] == [f"{datetime.now(UTC):%Y-%m-%d}.tsv"]
    assert [p.name for p in (tmp_path / "locks").iterdir()] == ["51credit.lock"]
    assert "worker" not in summaries(tmp_path)[-1]
