"""Shared test helpers: where ../shared is, and running a spider against the replica in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

#: Settings that make a crawl of the local replica fast; the politeness defaults stay for real sites.
FAST = {
    "ROBOTSTXT_OBEY": "False",
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "LOG_LEVEL": "INFO",
}


def shared_file(relative: str) -> Path:
    """A file of ../shared, or skip the test with the reason when ../shared is not beside the project."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"../shared absent: {relative} not found at {path}")
    return path


def crawl(spider: str, data_dir: Path, settings: dict[str, str], timeout: float = 300,
          args: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``scrapy crawl SPIDER`` from the project root with FAST defaults plus ``settings``."""
    merged = {**FAST, "DATA_DIR": str(data_dir), **settings}
    cmd = [sys.executable, "-m", "scrapy", "crawl", spider]
    for name, value in merged.items():
        cmd += ["-s", f"{name}={value}"]
    cmd += args or []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def read_rows(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def dumped_stats(log: str) -> dict[str, str]:
    """The ``Dumping Scrapy stats`` block of a crawl log, as key -> value text."""
    import re

    block = log.rpartition("Dumping Scrapy stats:")[2]
    return dict(re.findall(r"'([^']+)': ([^,\n]+)", block))
