"""Writes each ``Article`` as a Hexo post in the golden format (FORMATS.md §2) under ``DATA_DIR/hexo/``.

The body goes through exactly what the golden generator did (re-parse as an HTML5 document, scripts and
``on*`` handlers out, URLs absolute against the canonical URL, ``referrerpolicy`` on images, HTML5
serialization); whether it was cleaned first is the clean pipeline's business. File names come from
titles, which are hostile input: they can never leave ``DATA_DIR/hexo/``, and two articles whose titles
sanitize to the same name never share a file (the second gets ``-{docid}``). A small index,
``DATA_DIR/hexo/.docids.tsv``, remembers which docid owns which file, so the same docid overwrites its own
post on a later run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path, PurePosixPath
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler import html5
from crawler.errors import OutputError
from crawler.items import Article

logger = logging.getLogger(__name__)

#: Characters the golden generator replaced by ``_`` in titles (full-width ``：？`` and ASCII ``"`` stay).
TITLE_SUBSTITUTED = ':/\\?*“”<>|[]'
_TITLE_TABLE = str.maketrans(dict.fromkeys(TITLE_SUBSTITUTED, "_"))
_NEWLINES = re.compile(r"\r\n|[\r\n]")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: File names stay well under the usual 255-byte limit, leaving room for ``-{docid}`` and ``.md``.
MAX_STEM_BYTES = 200
INDEX_NAME = ".docids.tsv"


# --- the golden format ---------------------------------------------------------------------------------
def hexo_body(markup: str, base_url: str) -> str:
    """Steps 1-5 of the golden generator over a body's inner HTML; ``base_url`` is the canonical URL."""
    body = html5.parse_body(markup)
    html5.remove_scripts(body)
    html5.make_urls_absolute(body, base_url)
    html5.add_no_referrer(body)
    return html5.inner_html(body)


def first_image(body_markup: str) -> str | None:
    """``src`` of the first ``<img>`` of a body (as written), None if it has none."""
    body = html5.parse_body(body_markup)
    img = html5.find_first(body, lambda el: el.tag == "img" and bool(el.get("src")))
    return img.get("src") if img is not None else None


def hexo_title(title: str) -> str:
    """The title as the front matter writes it: ``: / \\ ? * “ ” < > | [ ]`` become ``_``, newlines
    become spaces, other control characters go (YAML cannot hold them)."""
    return _CONTROLS.sub("", _NEWLINES.sub(" ", title).translate(_TITLE_TABLE))


def yaml_title(title: str) -> str:
    """``'…'``, or ``"…"`` when the title holds ``'``; with both quotes, ``"`` is written ``\\"``."""
    if "'" not in title:
        return f"'{title}'"
    return '"' + title.replace('"', '\\"') + '"'


def hexo_date(moment: datetime) -> str:
    """RFC 1123 in GMT with a zero-padded day: ``Wed, 04 Aug 2021 10:37:20 GMT``."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def article_moment(article: Article) -> datetime | None:
    """When the post is dated: the roll API's ``intime``, else the page's own publication time."""
    for value in (article.intime, article.published):
        if value:
            with contextlib.suppress(ValueError):
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
                if moment.tzinfo is not None:
                    return moment
    return None


def render_post(title: str, categories: Sequence[str], image: str, date: str, body: str) -> str:
    """The whole post file, braces escaped; ``title`` already passed through ``hexo_title``."""
    quoted_image = image.replace("'", "''")
    text = (
        "\n---\n"
        f"title: {yaml_title(title)}\n"
        "categories: \n"
        + "".join(f" - {name}\n" for name in categories)
        + f"headimg: '{quoted_image}'\n"
        f"author: {categories[1]}\n"
        "comments: false\n"
        f"date: {date}\n"
        f"thumbnail: '{quoted_image}'\n"
        "---\n"
        "\n"
        "<div>   \n"
        f"{body}  \n"
        "</div>\n"
        "            "
    )
    return text.replace("{", "&#123;").replace("}", "&#125;")


# --- file names ------------------------------------------------------------------------------------------
def check_categories(categories: Sequence[str]) -> list[str]:
    """The three category names, each usable as one folder name; ValueError naming the bad one otherwise."""
    names = list(categories)
    if len(names) != 3:
        raise ValueError(
            f"categories {names!r} must be exactly three names (e.g. 金融, 新浪财经, 新浪财经－国內); "
            "fix SINA_ROLL_LISTS"
        )
    for name in names:
        if not name or name in (".", "..") or "/" in name or "\\" in name or _CONTROLS.search(name):
            raise ValueError(
                f"category {name!r} cannot be a folder name (empty, '.', '..', a slash or a control "
                "character); fix SINA_ROLL_LISTS"
            )
    return names


def file_stem(title: str) -> str:
    """The file name (without ``.md``) of a title: ``_``-substituted like the front matter's, without
    newlines, ``#``, ``.`` or other control characters, at most ``MAX_STEM_BYTES`` bytes of UTF-8 (cut
    on a character boundary); may be empty."""
    stem = _CONTROLS.sub("", title.translate(_TITLE_TABLE).replace("#", "").replace(".", ""))
    encoded = stem.encode("utf-8")
    if len(encoded) > MAX_STEM_BYTES:
        stem = encoded[:MAX_STEM_BYTES].decode("utf-8", "ignore")
    return stem


class HexoWriterPipeline:
    """Writes every ``Article`` as ``DATA_DIR/hexo/{c1}/{c2}/{c3}/{title}.md``; other items pass through."""

    def __init__(
        self, root: Path, fsync: bool = True, clock: Callable[[], datetime] | None = None, stats: Any = None
    ) -> None:
        self.root = root
        self.fsync = fsync
        self.clock = clock or (lambda: datetime.now(UTC))
        self.stats = stats
        self._owners: dict[str, str] | None = None
        """relative path -> docid that owns it."""
        self._paths: dict[str, str] = {}
        """docid -> relative path of its post."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HexoWriterPipeline:
        settings = crawler.settings
        return cls(
            root=Path(settings.get("DATA_DIR", "data")) / "hexo",
            fsync=settings.getbool("HEXO_FSYNC", True),
            stats=crawler.stats,
        )

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            self.write(item)
        return item

    # --- index of owners ---------------------------------------------------------------------------------
    @property
    def index_path(self) -> Path:
        return self.root / INDEX_NAME

    def _load(self) -> dict[str, str]:
        if self._owners is None:
            self._paths = {}
            if self.index_path.exists():
                for line in self.index_path.read_text(encoding="utf-8").splitlines():
                    docid, sep, rel = line.partition("\t")
                    if sep and docid and rel:
                        self._paths[docid] = rel
            self._owners = {rel: docid for docid, rel in self._paths.items()}
        return self._owners

    def _record(self, docid: str, rel: str) -> None:
        owners = self._load()
        if self._paths.get(docid) == rel:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.index_path, "a", encoding="utf-8") as index:
            index.write(f"{docid}\t{rel}\n")
            index.flush()
            if self.fsync:
                os.fsync(index.fileno())
        old = self._paths.get(docid)
        if old is not None:
            owners.pop(old, None)
        self._paths[docid] = rel
        owners[rel] = docid

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)

    def claim(self, folder: PurePosixPath, stem: str, docid: str) -> PurePosixPath:
        """The relative path the post of ``docid`` goes to: ``{stem}.md`` unless another docid owns it
        (or a file nobody owns is there), then ``{stem}-{docid}.md``."""
        owners = self._load()
        name, attempt = f"{stem}.md", 0
        while True:
            rel = folder / name
            owner = owners.get(str(rel))
            if owner == docid or (owner is None and not (self.root / rel).exists()):
                return rel
            attempt += 1
            if attempt == 1:
                self._inc("hexo/title_collisions")
                logger.warning(
                    "Hexo title collision: %s belongs to %s; article %s is written with its docid appended",
                    rel, owner or "a file not written by this crawler", docid,
                )  # fmt: skip
            name = f"{stem}-{docid}.md" if attempt == 1 else f"{stem}-{docid}-{attempt}.md"

    def write(self, article: Article) -> Path:
        """Write (or overwrite) the post of ``article``; returns its path."""
        try:
            categories = check_categories(article.categories)
        except ValueError as exc:
            raise DropItem(f"article {article.docid}: {exc}") from exc
        if not article.docid or "\t" in article.docid or "/" in article.docid or article.docid in (".", ".."):
            raise DropItem(f"article docid {article.docid!r} cannot name a file; the page function is wrong")
        title = hexo_title(article.title)
        named = file_stem(article.title)
        stem = named or article.docid
        if not named:
            self._inc("hexo/untitled")
            logger.warning("Hexo post of %s has no usable title (%r); named after its docid", article.docid,
                           article.title)  # fmt: skip
        rel = self.claim(PurePosixPath(*categories), stem, article.docid)
        target = self.root / rel
        root = self.root.resolve()
        if not target.resolve().is_relative_to(root):
            raise DropItem(f"article {article.docid}: post path {target} would leave {root}")
        body = hexo_body(article.body_html, article.canonical_url or article.url)
        image = first_image(body) or article.api_img or ""
        moment = article_moment(article)
        if moment is None:
            moment = self.clock()
            self._inc("hexo/undated")
            logger.warning("Hexo post of %s has no intime or page time; dated %s", article.docid, moment)
        data = render_post(title, categories, image, hexo_date(moment), body).encode("utf-8")
        old = self._paths.get(article.docid)
        self._record(article.docid, str(rel))
        self._write_atomically(target, data)
        if old is not None and old != str(rel):
            with contextlib.suppress(FileNotFoundError):
                (self.root / old).unlink()
            logger.info("Hexo post of %s moved from %s to %s (title changed)", article.docid, old, rel)
        self._inc("hexo/posts_written")
        return target

    def _write_atomically(self, target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".hexo-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                if self.fsync:
                    os.fsync(out.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise OutputError(exc.errno or 5, f"cannot write {target}: {exc.strerror}") from exc
        if self.fsync:
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
