"""SIGKILL at random moments, then a run to the end: every post written, each exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.helpers import FAST, ROOT, crawl, read_rows
from tests.replica.discuz import DiscuzSite, generated_board
from tests.replica.server import Replica, Request, Response, serving

KILLS = 20


class Slow:
    """Delays every answer a little so that kills land in the middle of the crawl."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def handle(self, request: Request) -> Response | None:
        time.sleep(self.seconds)
        return None


def kill_runs(spider: str, settings: dict[str, str], rng: random.Random) -> tuple[int, int]:
    """Start ``scrapy crawl SPIDER`` again and again, SIGKILL each at a random moment; (kills, attempts)."""
    cmd = [sys.executable, "-m", "scrapy", "crawl", spider]
    for name, value in {**FAST, "CONCURRENT_REQUESTS_PER_DOMAIN": "4", "LOG_LEVEL": "WARNING", **settings}.items():
        cmd += ["-s", f"{name}={value}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    kills = attempts = 0
    while kills < KILLS and attempts < 4 * KILLS:
        attempts += 1
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 2.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    return kills, attempts


def test_kill_9_twenty_times_then_finish(tmp_path: Path) -> None:
    board = generated_board(forums=2, threads_per_forum=15, max_posts=60, seed=7)
    expected = sorted(str(p.pid) for t in board.threads.values() for p in t.posts)
    rng = random.Random(20261123)
    with serving(Replica([Slow(0.03), DiscuzSite(board)])) as server:
        settings = {"CREDIT51_BASE_URL": server.base_url, "DATA_DIR": str(tmp_path)}
        kills, attempts = kill_runs("51credit", settings, rng)
        final = crawl("51credit", tmp_path, {"CREDIT51_BASE_URL": server.base_url})
    assert final.returncode == 0, final.stderr[-3000:]
    assert kills == KILLS, f"only {kills} of {attempts} runs were still going when killed"
    rows = [r for p in sorted((tmp_path / "tsv" / "51credit").glob("*.tsv")) for r in read_rows(p)]
    assert all(len(r.split("\t")) == 15 for r in rows)
    counts = Counter(r.split("\t")[8] for r in rows)
    duplicates = {pid: n for pid, n in counts.items() if n > 1}
    assert not duplicates
    assert sorted(counts) == expected
    # Every WARC of the 21 runs, the 20 killed ones salvaged at the next start, passes the strict check.
    from archive.check import check

    warc_dir = tmp_path / "warc"
    assert not list(warc_dir.glob("*.open"))
    warcs = sorted(warc_dir.glob("*.warc.gz"))
    assert warcs  # runs killed before their first page never opened a file: how many did depends on timing
    report = check(warcs)
    assert report.ok, [str(v) for v in report.violations][:5]


def test_sina_kill_9_twenty_times_then_finish(tmp_path: Path) -> None:
    from tests.replica.sina import SinaSite, generated_article

    site = SinaSite([generated_article(f"chaos{i:07d}", 1_700_000_000 - 60 * i, paragraphs=2, images=1)
                     for i in range(300)])
    expected = sorted(a.id for a in site.articles)
    rng = random.Random(1123)
    with serving(Replica([Slow(0.03), site])) as server:
        api = server.base_url + "api/roll/get"
        kills, attempts = kill_runs("sina_finance", {"SINA_ROLL_API_URL": api, "DATA_DIR": str(tmp_path)}, rng)
        # Incremental paging stops at a page with nothing new; a final full pass makes sure none was skipped.
        final = crawl("sina_finance", tmp_path, {"SINA_ROLL_API_URL": api})
    assert final.returncode == 0, final.stderr[-3000:]
    assert kills == KILLS, f"only {kills} of {attempts} runs were still going when killed"
    rows = [r for p in sorted((tmp_path / "tsv" / "sina_finance").glob("*.tsv")) for r in read_rows(p)]
    counts = Counter(r.split("\t")[0] for r in rows)
    assert not {d: n for d, n in counts.items() if n > 1}
    assert sorted(counts) == expected
    posts = sorted((tmp_path / "hexo").rglob("*.md"))
    assert len(posts) == len(expected)
