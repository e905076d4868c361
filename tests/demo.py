"""``make demo``: start the bundled replica site, crawl it with both spiders, say where everything went."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import FAST, ROOT
from tests.replica.discuz import DiscuzSite, generated_board
from tests.replica.server import Replica, serving
from tests.replica.sina import SinaSite, demo_articles


def _count_lines(paths: list[Path]) -> int:
    return sum(sum(1 for _ in p.open(encoding="utf-8")) for p in paths)


def run(data_dir: Path) -> int:
    data_dir = data_dir.resolve()
    board = generated_board()
    with serving(Replica([DiscuzSite(board), SinaSite(demo_articles())])) as server:
        print(f"replica site: {server.base_url} (forum index {server.base_url}forum.php)")
        jobs = [
            ("51credit", {"CREDIT51_BASE_URL": server.base_url}),
            ("sina_finance", {"SINA_ROLL_API_URL": server.base_url + "api/roll/get"}),
        ]
        for spider, extra in jobs:
            started = time.monotonic()
            cmd = [sys.executable, "-m", "scrapy", "crawl", spider]
            for name, value in {**FAST, "LOG_LEVEL": "WARNING", "DATA_DIR": str(data_dir), **extra}.items():
                cmd += ["-s", f"{name}={value}"]
            print(f"crawling with: scrapy crawl {spider} ...", flush=True)
            result = subprocess.run(cmd, cwd=ROOT)
            if result.returncode != 0:
                print(f"scrapy crawl {spider} failed with exit code {result.returncode}", file=sys.stderr)
                return result.returncode
            print(f"  done in {time.monotonic() - started:.1f}s")
    print("\nWhere it went:")
    for spider in ("51credit", "sina_finance"):
        tsvs = sorted((data_dir / "tsv" / spider).glob("*.tsv"))
        if tsvs:
            print(f"  {spider} rows: {_count_lines(tsvs)} in {', '.join(str(p) for p in tsvs)}")
    hexo = sorted((data_dir / "hexo").rglob("*.md"))
    if hexo:
        print(f"  Hexo posts: {len(hexo)} under {data_dir / 'hexo'}")
    warcs = sorted((data_dir / "warc").glob("*.warc.gz"))
    if warcs:
        size = sum(p.stat().st_size for p in warcs)
        print(f"  WARC archive: {len(warcs)} file(s), {size / 1e6:.1f} MB in {data_dir / 'warc'}")
        from archive.check import check

        report = check(warcs)
        print(f"  archive check: {'every file passes' if report.ok else 'FAILED, run: archive check ' + str(warcs[0])}")
        if not report.ok:
            return 1
    summaries = sorted((data_dir / "runs").glob("*.json"))
    if summaries:
        print(f"  run summaries: {data_dir / 'runs'}")
    print("\nInspect the archive with: .venv/bin/archive ls " + (str(warcs[0]) if warcs else "<file>.warc.gz"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.demo", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("demo-data"), help="where outputs go")
    return run(parser.parse_args(argv).data_dir)


if __name__ == "__main__":
    sys.exit(main())
