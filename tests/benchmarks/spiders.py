"""What the benchmark crawls: one entry per spider, naming its site, its settings and wget's equivalent.

Adding a spider is one entry in :data:`SPIDERS` (and ``--spiders NAME``): the builder that renders its
replica to static files, the ``-s`` overrides that point the spider at ``static.base_url``, and the wget
arguments that fetch the same pages. A spider whose module or replica is not in the checkout is skipped
with the reason, never faked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.benchmarks.site import SINA_LIST, SINA_PAGE_SIZE, SINA_ROLL, StaticSite, discuz_site, sina_site


@dataclass(frozen=True)
class SpiderBench:
    spider: str
    """The name given to ``scrapy crawl``."""
    module_file: str
    """The spider's module, relative to the project; absent means not merged yet."""
    build: Callable[[StaticSite, int, bool], None]
    """Render the site: (static site, size, quick)."""
    size_unit: str
    default_size: int
    """About 10,000 pages."""
    big_size: int
    """About 50,000 pages, for memory growth."""
    quick_size: int
    settings: Callable[[StaticSite], dict[str, str]]
    wget_args: Callable[[StaticSite, Path], list[str]]
    """wget arguments (after the common ones) that fetch exactly the pages our spider fetches."""
    wget_reads_robots: bool = True
    """wget reads robots.txt only when it recurses; otherwise it is one page fewer than ours."""

    def available(self, project: Path) -> str | None:
        """None when it can run against ``project``; else why not."""
        if not (project / self.module_file).exists():
            return f"{self.module_file} is not in {project} yet"
        return None


def _credit51_build(static: StaticSite, size: int, quick: bool) -> None:
    discuz_site(static, threads=size, forums=2 if quick else 6, max_posts=60 if quick else 100)


def _credit51_wget(static: StaticSite, workdir: Path) -> list[str]:
    host = re.escape(static.base_url)
    return [
        "--recursive", "--level=inf", "--no-parent",
        # Only what the spider fetches: no space, member, home, redirect, image or CSS links.
        f"--accept-regex=^{host}(forum\\.php|forum-[0-9]+-[0-9]+\\.html|thread-[0-9]+-[0-9]+-1\\.html)$",
        "--reject-regex=\\?",
        static.url("/forum.php"),
    ]


CREDIT51 = SpiderBench(
    spider="51credit",
    module_file="crawler/spiders/credit51.py",
    build=_credit51_build,
    size_unit="threads",
    default_size=3_300,
    big_size=16_500,
    quick_size=20,
    settings=lambda static: {"CREDIT51_BASE_URL": static.base_url},
    wget_args=_credit51_wget,
)


def _sina_build(static: StaticSite, size: int, quick: bool) -> None:
    sina_site(static, articles=size)


def _sina_wget(static: StaticSite, workdir: Path) -> list[str]:
    # wget cannot read links out of the roll API's JSON: it is given the same URL list instead.
    listing = workdir / "sina-urls.txt"
    listing.write_text("".join(static.url(t) + "\n" for t in static.targets if t != "/robots.txt"))
    return [f"--input-file={listing}"]


SINA = SpiderBench(
    spider="sina_finance",
    module_file="crawler/spiders/sina_finance.py",
    build=_sina_build,
    size_unit="articles",
    default_size=2_000,
    big_size=0,  # memory growth is measured on the forum, the larger crawl
    quick_size=20,
    settings=lambda static: {
        "SINA_ROLL_API_URL": static.base_url.rstrip("/") + SINA_ROLL.path,
        "SINA_ROLL_LISTS": json.dumps({":".join(SINA_LIST): ["金融", "新浪财经", "新浪财经－国內"]},
                                      ensure_ascii=False),
        "SINA_ROLL_PAGE_SIZE": str(SINA_PAGE_SIZE),
    },
    wget_args=_sina_wget,
    wget_reads_robots=False,
)

SPIDERS: dict[str, SpiderBench] = {bench.spider: bench for bench in (CREDIT51, SINA)}
#: What ``make bench`` runs when no ``--spiders`` is given (one absent from the checkout is skipped, with why).
DEFAULT_SPIDERS = ["51credit", "sina_finance"]
