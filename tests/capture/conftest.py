"""Fixtures: the capture site on the replica core, and crawls of it run in a subprocess."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.capture.site import CaptureSite
from tests.replica.server import Replica, ReplicaServer, serving

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Crawl:
    """What one run of ``tests.capture.runner`` left behind."""

    base: str
    out: Path
    log: list[tuple[str, str]]
    """The replica's log of requests (method, request-target) made during this crawl."""

    @property
    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = json.loads((self.out / "stats.json").read_text())
        return stats

    @property
    def probe(self) -> list[Any]:
        with (self.out / "probe.pickle").open("rb") as f:
            seen: list[Any] = pickle.load(f)
        return seen

    @property
    def writer(self) -> dict[str, Any]:
        with (self.out / "writer.pickle").open("rb") as f:
            recorded: dict[str, Any] = pickle.load(f)
        return recorded

    @property
    def warc_files(self) -> list[Path]:
        return sorted((self.out / "data" / "warc").glob("*.warc.gz"))


def run_crawl(server: ReplicaServer, out: Path, *args: str) -> Crawl:
    """Crawl ``server`` with ``tests.capture.runner`` in a subprocess; fail with its output if it fails."""
    server.replica.log.clear()
    command = [sys.executable, "-m", "tests.capture.runner", server.base_url, str(out), *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    log = out / "crawl.log"
    assert done.returncode == 0, (done.stdout, done.stderr, log.read_text() if log.exists() else "")
    return Crawl(server.base_url, out, list(server.replica.log))


@pytest.fixture(scope="session")
def server() -> Iterator[ReplicaServer]:
    with serving(Replica([CaptureSite()])) as server:
        yield server


@pytest.fixture(scope="session")
def recorded_crawl(server: ReplicaServer, tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    """One crawl of every case, the middlewares writing to a recording writer instead of WARC files."""
    return run_crawl(server, tmp_path_factory.mktemp("recorded"), "--fake-writer")


@pytest.fixture(scope="session")
def warc_crawl(server: ReplicaServer, tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    """One crawl of every case written by the real ``archive.writer.WarcWriter`` into ``out/data/warc``."""
    return run_crawl(server, tmp_path_factory.mktemp("warc"))


@pytest.fixture(scope="session")
def second_warc_crawl(
    server: ReplicaServer, warc_crawl: Crawl, tmp_path_factory: pytest.TempPathFactory
) -> Crawl:
    """The same crawl again over a copy of the first one's DATA_DIR (WARC files and digest index)."""
    out = tmp_path_factory.mktemp("warc-again")
    shutil.copytree(warc_crawl.out / "data", out / "data")
    return run_crawl(server, out)
