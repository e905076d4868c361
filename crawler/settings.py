"""Every setting of the project, documented in one place; the only reader of ``os.environ``.

Users override any of them with ``scrapy crawl SPIDER -s NAME=VALUE``. Environment variables with the
same name (``CRAWLER_`` prefix not needed) are read for the few that deployments set per machine.
"""

from __future__ import annotations

import os

BOT_NAME = "crawler"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
COMMANDS_MODULE = "crawler.commands"

# --- Politeness: the defaults are for the real sites -------------------------------------------------
#: Who to contact about this crawler; shown in the user agent.
CRAWLER_CONTACT = os.environ.get("CRAWLER_CONTACT", "https://example.org/crawler-contact")
USER_AGENT = f"archival-crawler/0.1 (+{CRAWLER_CONTACT})"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
DOWNLOAD_TIMEOUT = 60
#: Bodies past this size are cut; the WARC record is marked ``WARC-Truncated: length``.
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
COOKIES_ENABLED = True
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = os.environ.get("CRAWLER_LOG_LEVEL", "INFO")
FEED_EXPORT_ENCODING = "utf-8"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

# --- Where outputs go --------------------------------------------------------------------------------
#: Root of every output: ``tsv/``, ``hexo/``, ``warc/``, ``runs/``, ``state.sqlite``.
DATA_DIR = os.environ.get("CRAWLER_DATA_DIR", "data")

# --- bbs.51credit.com ----------------------------------------------------------------------------------
#: Base URL of the forum (ends with ``/``); tests point it at the local replica.
CREDIT51_BASE_URL = "https://bbs.51credit.com/"
#: Forum ids to crawl (list or comma-separated); empty = every forum on the forum index.
CREDIT51_FORUMS: list[str] = []
#: Listing pages to walk per forum; 0 = all.
CREDIT51_MAX_LISTING_PAGES = 0
#: Fetch a thread again only when its listing row shows a newer last reply, from the page new posts land on.
CREDIT51_INCREMENTAL = True
#: Posts per thread page on the forum (51credit: 20); where the next reply lands.
CREDIT51_POSTS_PER_PAGE = 20

# --- Sina Finance ----------------------------------------------------------------------------------------
SINA_ROLL_API_URL = "https://feed.mix.sina.com.cn/api/roll/get"
#: ``pageid:lid`` pairs, each with its three Hexo category names.
SINA_ROLL_LISTS = {"155:1686": ["金融", "新浪财经", "新浪财经－国內"]}
#: Roll API pages to read per list; 0 = until the API has no more.
SINA_ROLL_MAX_PAGES = 0
SINA_ROLL_PAGE_SIZE = 50
#: Fetch only articles whose docid no earlier run emitted, and stop paging a list at a page with nothing new.
SINA_INCREMENTAL = True
#: Keep ``#artibody`` as served (transformed only as the golden generator did) instead of cleaning it.
HEXO_RAW_BODY = False

# --- Output pipelines ----------------------------------------------------------------------------------
#: ``daily``: one row per line in ``tsv/{spider}/{YYYY-MM-DD}.tsv``; ``per-post``: the 2018 layout,
#: ``tsv/{spider}/files/{YYYY-MM-DD}/{id}.txt`` holding one row with no newline.
TSV_LAYOUT = "daily"
#: fsync each TSV file once a row is written (durability before the post is marked emitted).
TSV_FSYNC = True
#: The ``YYYY-MM-DD`` naming the run's TSV files; empty = the crawl's UTC start date.
TSV_DATE = ""

# Order is the exactly-once contract: drop duplicates, write the other outputs, write the TSV row (the commit
# record), then mark the record emitted in the crawl state.
ITEM_PIPELINES = {
    "crawler.pipelines.dedupe.DuplicatePostPipeline": 200,
    "crawler.pipelines.dedupe.DuplicateArticlePipeline": 210,
    "crawler.pipelines.tsv.TsvWriterPipeline": 500,
    "crawler.pipelines.emitted.EmittedPipeline": 900,
}

#: Re-extraction: a WARC file or folder to answer every request from, offline (give the run its own
#: DATA_DIR so its state starts empty). Nothing is fetched and no WARC is written.
REPLAY_WARC = ""

DOWNLOADER_MIDDLEWARES: dict[str, int] = {
    "crawler.middlewares.replay.WarcReplayMiddleware": 50,
}
EXTENSIONS: dict[str, int] = {
    "crawler.extensions.runs.RunsExtension": 0,
}

# --- WARC capture ----------------------------------------------------------------------------------------
#: Write every HTTP exchange (robots.txt, redirects, errors and retries included) to WARC/1.1 files.
WARC_ENABLED = True
#: Directory of the ``.warc.gz`` files; empty = ``DATA_DIR/warc``.
WARC_DIR = ""
#: File name prefix, ``{prefix}-{YYYYmmddHHMMSSfff}-{serial:05d}-{host}.warc.gz``; empty = the spider name.
WARC_PREFIX = ""
#: Start a new file once the current one passes this many bytes.
WARC_MAX_BYTES = 1_000_000_000
#: Who runs the crawl, for the warcinfo ``operator`` field; empty = ``CRAWLER_CONTACT``.
WARC_OPERATOR = os.environ.get("WARC_OPERATOR", "")
#: The collection the files belong to, for the warcinfo ``isPartOf`` field; empty = the prefix.
WARC_IS_PART_OF = ""
#: Write identical payloads again as revisit records, keyed by digest in ``DATA_DIR/state.sqlite``.
WARC_DEDUP = True
#: Write a metadata record per parsed page: outlinks, charset decision, ids of the items extracted.
WARC_METADATA = True

# Capture sits nearest the network (above HttpCache 900) and sees each real exchange once, body still
# content-encoded; the metadata spider middleware sits nearest the spider and sees all it yields. The
# download handler keeps what Scrapy's own drops (Transfer-Encoding, Content-Length, reason phrase, the
# request head as sent). Merged into whatever the blocks above registered.
DOWNLOADER_MIDDLEWARES["crawler.middlewares.warc.WarcCaptureMiddleware"] = 950
SPIDER_MIDDLEWARES: dict[str, int] = {
    **globals().get("SPIDER_MIDDLEWARES", {}),
    "crawler.middlewares.warc.WarcMetadataSpiderMiddleware": 1100,
}
DOWNLOAD_HANDLERS: dict[str, str] = {
    **globals().get("DOWNLOAD_HANDLERS", {}),
    "http": "crawler.middlewares.handler.FaithfulHTTP11DownloadHandler",
    "https": "crawler.middlewares.handler.FaithfulHTTP11DownloadHandler",
}

# --- Sina / Hexo ---------------------------------------------------------------------------------------
# (SINA_ROLL_API_URL, SINA_ROLL_LISTS, SINA_ROLL_MAX_PAGES, SINA_ROLL_PAGE_SIZE and HEXO_RAW_BODY are above.)
#: Referer sent with roll API requests, as Sina's own pages send it.
SINA_ROLL_REFERER = "https://finance.sina.com.cn/"
#: fsync each Hexo post (and the ``.docids.tsv`` index beside them) once written.
HEXO_FSYNC = True
# Clean article bodies (300, disabled by HEXO_RAW_BODY), then write Hexo posts (450) before the TSV row
# (500): the TSV row is the commit record that a killed run's successor reconciles from.
ITEM_PIPELINES["crawler.pipelines.clean.CleanBodyPipeline"] = 300
ITEM_PIPELINES["crawler.pipelines.hexo.HexoWriterPipeline"] = 450

# --- Site defences ---------------------------------------------------------------------------------------
# crawler/middlewares/defences.py: outside WARC capture (950), so challenge and block pages are archived as
# what they were; after HttpCompression (590) so it reads decoded bodies; before Retry (550) so a 429/503
# with Retry-After is waited out here instead of retried at once. robots.txt stays Scrapy's (ROBOTSTXT_OBEY).
DOWNLOADER_MIDDLEWARES["crawler.middlewares.defences.DefencesMiddleware"] = 560
#: Off: challenge, block and login pages reach the callbacks as if they were content.
DEFENCES_ENABLED = True
#: Statuses of a JS cookie challenge (加速乐 answers 521 with an inline script).
DEFENCES_CHALLENGE_STATUSES = [521]
#: Solved tries per request before a JS challenge or _dsign page stops the crawl as blocked.
DEFENCES_CHALLENGE_TRIES = 3
#: Seconds a challenge script may run in V8 (mini-racer).
DEFENCES_JS_TIMEOUT = 5.0
#: A 200 page larger than this is never taken for a script-only (_dsign) page.
DEFENCES_SCRIPT_PAGE_MAX_BYTES = 64 * 1024
#: WAF block or login pages in a row (no content page between) that stop the crawl as blocked.
DEFENCES_BLOCK_LIMIT = 5
#: Text of WAF block pages (visible text or title); checked only on pages without content markup.
DEFENCES_BLOCK_MARKERS = ["访问被拒绝", "您的访问被阻断", "对网站造成安全威胁", "Access Denied", "Request Blocked",
                          "The requested URL was rejected"]
#: Text of "log in first" pages (Discuz's 您无权进行当前操作 message page).
DEFENCES_LOGIN_MARKERS = ["您无权进行当前操作", "您需要先登录才能继续本操作", "抱歉，您尚未登录", "请先登录后才能"]
#: CSS selectors of content markup: a page matching any is content, whatever its text says.
DEFENCES_CONTENT_SELECTORS = ["#postlist", "#threadlisttableid", "[id^=category_]", "#artibody", "#article"]
#: Statuses whose Retry-After is honoured (without the header they are left to RETRY_HTTP_CODES).
RETRY_AFTER_STATUSES = [429, 503]
#: Longest Retry-After (seconds) worth waiting; a longer one stops the crawl as blocked (rate-limit).
RETRY_AFTER_MAX = 600
#: Waits per request before a site that keeps answering Retry-After stops the crawl as blocked.
RETRY_AFTER_TIMES = 5
# --- Distributed crawling (REDIS_URL) ------------------------------------------------------------------
# Many processes, one crawl: the same command on each, with the same REDIS_URL (README, "Distributed
# crawling"). The DistributedCrawl add-on switches the scheduler, dupefilter and crawl state to Redis when
# REDIS_URL is set (a -s value included); without it nothing changes and neither redis nor scrapy_redis
# is imported.
#: ``redis://[:password@]host:port/db``; empty = one process, state in ``DATA_DIR/state.sqlite``.
REDIS_URL = os.environ.get("CRAWLER_REDIS_URL", "")
#: First part of every Redis key: ``{prefix}:emitted:post``, ``{prefix}:{spider}:requests``, ...
REDIS_STATE_PREFIX = "crawler"
#: This worker's name in its TSV part, WARC, lock and summary file names and its Redis lease; empty =
#: ``{hostname}-{pid}``. Two running workers never share one.
WORKER_ID = os.environ.get("CRAWLER_WORKER_ID", "")
#: Seconds a worker may go silent before the others take it for dead: its held requests go back in the
#: queue and its claims on records can be taken over.
REDIS_LEASE_SECONDS = 30
#: The crawl this worker takes part in: workers given the same id make one crawl, and a worker whose
#: crawl is already over exits at once instead of starting another (e.g. ``$(date -u +%Y%m%dT%H)`` in
#: every worker's cron line). Empty = the crawl going, or a new one if none is.
REDIS_CRAWL_ID = ""
#: Whole seconds a worker waits, once the crawl is complete, for a new one to start before it closes.
SCHEDULER_IDLE_BEFORE_CLOSE = 0
ADDONS: dict[str, int] = {
    **globals().get("ADDONS", {}),
    "crawler.distributed.DistributedCrawl": 0,
}
