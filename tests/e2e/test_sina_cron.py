"""Cron runs of sina_finance: only new articles fetched, each article written once, a changed one versioned."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from tests.helpers import crawl, dumped_stats, read_rows
from tests.replica.server import Replica, serving
from tests.replica.sina import SinaSite, generated_article

START = 1_700_000_000


def rows(data_dir: Path) -> list[list[str]]:
    return [r.split("\t") for r in read_rows(data_dir / "tsv" / "sina_finance" / f"{datetime.now(UTC):%Y-%m-%d}.tsv")]


def article_fetches(log: list[tuple[str, str]], since: int) -> list[str]:
    return sorted(t for _, t in log[since:] if "/doc-i" in t)


def test_incremental_runs_dedupe_and_versions(tmp_path: Path) -> None:
    # 60 articles: two roll pages of 50.
    site = SinaSite([generated_article(f"incr{i:07d}", START - 60 * i) for i in range(60)])
    with serving(Replica([site])) as server:
        log = server.replica.log
        settings = {"SINA_ROLL_API_URL": server.base_url + "api/roll/get"}
        first = crawl("sina_finance", tmp_path, settings)
        assert first.returncode == 0, first.stderr[-2000:]
        assert sorted(r[0] for r in rows(tmp_path)) == sorted(f"incr{i:07d}" for i in range(60))

        mark = len(log)
        second = crawl("sina_finance", tmp_path, settings)
        assert second.returncode == 0
        assert article_fetches(log, mark) == []
        # Paging stops at the first page with nothing new.
        assert [t for _, t in log[mark:] if t.startswith("/api/")] == [t for _, t in log[mark:]
                                                                       if t.startswith("/api/")][:1]
        assert len(rows(tmp_path)) == 60

        new = [site.add_article(generated_article(f"incr{100 + i:07d}", START + 60 * (i + 1))) for i in range(2)]
        # The same story again under another docid: fetched (new docid), then dropped as the same content.
        twin = site.articles[5]
        site.add_article(dataclasses.replace(twin, id="twin0000001", path=None, canonical=None, intime=START + 500))
        mark = len(log)
        third = crawl("sina_finance", tmp_path, settings)
        assert third.returncode == 0, third.stderr[-2000:]
        assert article_fetches(log, mark) == sorted([a.path or "" for a in new] + [site.articles[-1].path or ""])
        stats = dumped_stats(third.stderr)
        assert stats.get("item_scraped_count") == "2"
        assert stats.get("item_dropped_count") == "1"
        assert len(rows(tmp_path)) == 62

        # A changed article, reached again, is emitted again as a new version; the rest are duplicates.
        changed = site.articles[0]
        changed.paragraphs = [*changed.paragraphs, "更正：本文第二段数据有误，已修改。"]
        fourth = crawl("sina_finance", tmp_path, {**settings, "SINA_INCREMENTAL": "False"})
        assert fourth.returncode == 0, fourth.stderr[-2000:]
    stats = dumped_stats(fourth.stderr)
    assert stats.get("item_scraped_count") == "1"
    versions = [r for r in rows(tmp_path) if r[0] == changed.id]
    assert len(versions) == 2 and versions[0][13] != versions[1][13]
