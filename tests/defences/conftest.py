"""Shared crawl of a small forum behind replica defences, and the rows the same crawl gives without them."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import crawl, dumped_stats, read_rows
from tests.replica.discuz import Board, DiscuzSite, generated_board
from tests.replica.server import Replica, Site, serving

TSV_DATE = "2018-09-14"


def small_board() -> Board:
    """Two forums, 12 threads, a few of two pages: small enough to crawl in a couple of seconds."""
    return generated_board(forums=2, threads_per_forum=6, max_posts=30, seed=8)


@dataclass
class Crawl:
    result: subprocess.CompletedProcess[str]
    rows: list[str]
    """TSV rows with the replica's base URL replaced by ``BASE/``, sorted."""
    stats: dict[str, str]
    replica: Replica
    base_url: str

    @property
    def log(self) -> str:
        return self.result.stderr


def crawl_behind(tmp_path: Path, defences: list[Site], board: Board | None = None,
                 settings: dict[str, str] | None = None, robots: str | None = None) -> Crawl:
    """Crawl ``board`` (default: small_board()) served behind ``defences``."""
    board = board or small_board()
    forum = DiscuzSite(board) if robots is None else DiscuzSite(board, robots=robots)
    replica = Replica([*defences, forum])
    with serving(replica) as server:
        result = crawl("51credit", tmp_path, {"CREDIT51_BASE_URL": server.base_url, "TSV_DATE": TSV_DATE,
                                             **(settings or {})}, timeout=120)
        base = server.base_url
    rows = read_rows(tmp_path / "tsv" / "51credit" / f"{TSV_DATE}.tsv")
    return Crawl(result, sorted(r.replace(base, "BASE/") for r in rows), dumped_stats(result.stderr), replica, base)


@pytest.fixture(scope="session")
def undefended(tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    """The same forum crawled with no defence up: what a crawl that gets through must match."""
    run = crawl_behind(tmp_path_factory.mktemp("undefended"), [])
    assert run.result.returncode == 0, run.log[-3000:]
    board = small_board()
    assert len(run.rows) == sum(len(t.posts) for t in board.threads.values())
    return run
