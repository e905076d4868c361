"""Starting crawl workers against one Redis and one replica, and reading back what they wrote."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.helpers import FAST, ROOT, read_rows
from tests.replica.server import Request, Response


class Slow:
    """A per-request latency, as a real site has: the crawl waits on the network, not on the CPU."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def handle(self, request: Request) -> Response | None:
        time.sleep(self.seconds)
        return None


def worker_command(data_dir: Path, settings: dict[str, str]) -> list[str]:
    merged = {**FAST, "DATA_DIR": str(data_dir), **settings}
    cmd = [sys.executable, "-m", "scrapy", "crawl", "51credit"]
    for name, value in merged.items():
        cmd += ["-s", f"{name}={value}"]
    return cmd


def start_worker(data_dir: Path, settings: dict[str, str]) -> subprocess.Popen[str]:
    """``scrapy crawl 51credit`` in the background; its log goes to ``data_dir/worker.log``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "worker.log").open("a", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(worker_command(data_dir, settings), cwd=ROOT, env=env, stdout=log, stderr=log,
                            text=True)


def rows_of(data_dirs: list[Path]) -> list[str]:
    """Every TSV row of every worker's part files."""
    return [r for d in data_dirs for p in sorted((d / "tsv" / "51credit").glob("*.tsv")) for r in read_rows(p)]


def pid_counts(data_dirs: list[Path]) -> Counter[str]:
    return Counter(r.split("\t")[8] for r in rows_of(data_dirs))
