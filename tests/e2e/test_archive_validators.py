"""What both spiders archive passes every validator: archive check, warcio check, gzip -t, cdxj-indexer,
and the WACZ built from it passes `wacz validate`, with every thread page and article in pages.jsonl."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from archive.cli import main as archive
from tests.helpers import crawl
from tests.replica.discuz import DiscuzSite, generated_board
from tests.replica.server import Replica, serving
from tests.replica.sina import SinaSite, demo_articles


def test_crawl_archive_passes_every_validator_and_packs_into_a_valid_wacz(tmp_path: Path) -> None:
    board = generated_board(forums=2, threads_per_forum=4, max_posts=30)
    with serving(Replica([DiscuzSite(board), SinaSite(demo_articles())])) as server:
        for spider, settings in (("51credit", {"CREDIT51_BASE_URL": server.base_url, "ROBOTSTXT_OBEY": "True"}),
                                 ("sina_finance", {"SINA_ROLL_API_URL": server.base_url + "api/roll/get"})):
            result = crawl(spider, tmp_path, settings)
            assert result.returncode == 0, result.stderr[-2000:]
    warcs = sorted((tmp_path / "warc").glob("*.warc.gz"))
    assert len(warcs) == 2
    assert archive(["check", *map(str, warcs)]) == 0
    for path in warcs:
        warcio = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)],
                                capture_output=True, text=True)
        assert warcio.returncode == 0, warcio.stdout + warcio.stderr
        gzip_t = shutil.which("gzip")
        assert gzip_t is not None
        assert subprocess.run([gzip_t, "-t", str(path)]).returncode == 0
        cdxj = subprocess.run([sys.executable, "-m", "cdxj_indexer.main", str(path)], capture_output=True, text=True)
        assert cdxj.returncode == 0, cdxj.stderr
        assert len(cdxj.stdout.splitlines()) >= 5
    assert archive(["index", *map(str, warcs)]) == 0
    assert all(p.with_suffix("").with_suffix(".cdxj").exists() for p in warcs)

    wacz = tmp_path / "crawl.wacz"
    assert archive(["wacz", "-o", str(wacz), *map(str, warcs)]) == 0
    code = "import sys; from wacz.main import main; sys.exit(main(sys.argv[1:]))"
    validated = subprocess.run([sys.executable, "-c", code, "validate", "-f", str(wacz)],
                               capture_output=True, text=True)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    with zipfile.ZipFile(wacz) as z:
        lines = z.read("pages/pages.jsonl").decode().splitlines()
        assert gzip.decompress(z.read("indexes/index.cdx.gz"))
    pages = {json.loads(line)["url"]: json.loads(line).get("title") for line in lines[1:]}
    for thread in board.threads.values():
        for n in range(1, thread.pages + 1):
            url = f"{server.base_url}thread-{thread.tid}-{n}-1.html"
            assert url in pages and thread.title in (pages[url] or ""), url
    articles = [a for a in demo_articles() if a.layout not in ("slide", "video")]
    assert all(any(a.id in url for url in pages) for a in articles)
